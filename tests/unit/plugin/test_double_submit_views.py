"""The same form sent twice through the app (double click, Back and submit again) makes one resource."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from werkzeug.test import TestResponse

from tests.support.ui import LaunchedApp, launched


def agreements(env: LaunchedApp, text: str) -> list[dict[str, Any]]:
    return [t for t in env.resources("Task") if t.get("description") == text]


def provenances(env: LaunchedApp, text: str) -> int:
    return sum(1 for p in env.resources("Provenance") if (p.get("activity") or {}).get("text") == text)


def two_at_once(env: LaunchedApp, path: str, form: dict[str, str]) -> list[TestResponse]:
    """Two browsers' worth of the same POST (same session, same CSRF token, same submission key) at once."""
    barrier = threading.Barrier(2)
    answers: list[TestResponse] = []
    lock = threading.Lock()

    def send() -> None:
        client = env.app.test_client()
        client.set_cookie("rg_session", env.session_id, domain="localhost")
        barrier.wait()
        answer = client.post(env.url(path), data=form)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def test_double_click_and_back_make_one_agreement(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        text = "Samen naar de bibliotheek"
        form = {"csrf_token": env.csrf_token(), "submission_key": "9b0d5c3e-double-click", "description": text}
        answers = two_at_once(env, "/afspraken/nieuw", form)
        assert sorted(a.status_code for a in answers) == [303, 303], [a.get_data(as_text=True)[:300] for a in answers]
        assert len(agreements(env, text)) == 1
        back = env.post("/afspraken/nieuw", form)  # Back, then submit the same page again
        assert back.status_code == 303
        assert len(agreements(env, text)) == 1
        assert provenances(env, "Afspraak gemaakt") == 1
        shown = env.client.get(back.headers["Location"]).get_data(as_text=True)
        assert "Dit was al opgeslagen" in shown
        again = env.post("/afspraken/nieuw", {**form, "submission_key": "another-submission"})
        assert again.status_code == 303
        assert len(agreements(env, text)) == 2  # a new form is a new agreement


def test_a_refused_form_sent_again_with_the_same_key_is_saved(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        key = "7f3a-refused-then-fixed"
        empty = env.post("/afspraken/nieuw", {"description": " ", "submission_key": key})
        assert empty.status_code == 422
        assert f'value="{key}"' in empty.get_data(as_text=True)  # the corrected form keeps its key
        fixed = env.post("/afspraken/nieuw", {"description": "Fietsen", "submission_key": key})
        assert fixed.status_code == 303
        assert len(agreements(env, "Fietsen")) == 1
