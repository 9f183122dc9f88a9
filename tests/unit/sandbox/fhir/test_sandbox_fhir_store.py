"""The store's own API: seeding, the Directory, persistence, concurrency, and HTTP details."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sandbox_fhir_support import seed

from sandbox.access import Directory, Person
from sandbox.fhir import FhirError, FhirStore, StoreDirectory, create_fhir_app
from sandbox.fhir.values import date_range, parse_date_search, split_reference


def test_load_keeps_ids_and_resolves_urn_uuid_in_a_collection_bundle() -> None:
    store = FhirStore()
    written = store.load(seed())
    assert "Patient/p1" in written and "Goal/goal-p2" in written
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                "resource": {"resourceType": "Patient", "name": [{"family": "Nieuw"}]},
            },
            {
                "resource": {
                    "resourceType": "Goal",
                    "lifecycleStatus": "active",
                    "description": {"text": "x"},
                    "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
                }
            },
        ],
    }
    patient_ref, goal_ref = store.load(bundle)
    goal = store.read(*goal_ref.split("/"))
    assert goal["subject"]["reference"] == patient_ref
    assert store.search("Goal", [("patient", patient_ref)]).total == 1


def test_load_of_a_transaction_bundle_runs_it_as_a_transaction() -> None:
    store = FhirStore()
    written = store.load(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222",
                    "resource": {"resourceType": "Patient"},
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "resource": {
                        "resourceType": "Goal",
                        "lifecycleStatus": "active",
                        "description": {"text": "x"},
                        "subject": {"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"},
                    },
                    "request": {"method": "POST", "url": "Goal"},
                },
            ],
        }
    )
    assert [w.split("/")[0] for w in written] == ["Patient", "Goal"]
    assert store.read(*written[1].split("/"))["subject"]["reference"] == written[0]


def test_load_is_atomic_and_validated() -> None:
    store = FhirStore()
    with pytest.raises(FhirError) as err:
        store.load([{"resourceType": "Patient", "id": "ok"}, {"resourceType": "Goal", "id": "bad"}])
    assert err.value.status == 400
    assert store.all_of_type("Patient") == []


def test_loading_again_makes_a_new_version() -> None:
    store = FhirStore()
    store.load([{"resourceType": "Patient", "id": "p9"}])
    store.load([{"resourceType": "Patient", "id": "p9", "active": True}])
    assert store.read("Patient", "p9")["meta"]["versionId"] == "2"


def test_directory_lists_people_with_display_names() -> None:
    store = FhirStore()
    store.load(
        [
            *seed(),
            {"resourceType": "Practitioner", "id": "pr2", "name": [{"text": "Dr. Zee"}]},
            {"resourceType": "Practitioner", "id": "pr3"},
        ]
    )
    directory: Directory = StoreDirectory(store)
    assert directory.patients() == [Person("Patient", "p2", "Anna Bakker"), Person("Patient", "p1", "Anna Jansen")]
    assert [p.display for p in directory.practitioners()] == ["Dr. Zee", "Pieter de Vries", "Practitioner/pr3"]
    assert directory.get("Patient", "p1") == Person("Patient", "p1", "Anna Jansen")
    assert directory.get("Patient", "nobody") is None
    assert directory.get("Goal", "goal-p1") is None


def test_a_file_store_keeps_data_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "epd.sqlite")
    store = FhirStore(path)
    store.load(seed())
    store.close()
    again = FhirStore(path)
    assert again.read("Goal", "goal-p1")["subject"]["reference"] == "Patient/p1"
    assert again.search("Goal", [("patient", "p1")]).total == 1
    created = again.create({"resourceType": "Patient"}).resource
    assert created["meta"]["lastUpdated"] > again.read("Patient", "p1")["meta"]["lastUpdated"]
    again.close()


def test_concurrent_conditional_creates_make_exactly_one_resource() -> None:
    store = FhirStore()
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "same"}]}
    statuses: list[int] = []

    def worker() -> None:
        statuses.append(store.create(body, if_none_exist="identifier=urn:x|same").status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 7 + [201]
    assert store.search("Patient", [("identifier", "urn:x|same")]).total == 1


def test_failed_transaction_leaves_no_trace_and_store_keeps_working() -> None:
    store = FhirStore()
    tx = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "x"}, "request": {"method": "PUT", "url": "Patient/x"}},
            {
                "resource": {"resourceType": "Patient", "id": "y"},
                "request": {"method": "PUT", "url": "Patient/y", "ifMatch": 'W/"3"'},
            },
        ],
    }
    with pytest.raises(FhirError) as err:
        store.transaction(tx, "http://x/fhir")
    assert err.value.status == 412
    assert store.all_of_type("Patient") == []
    assert store.create({"resourceType": "Patient"}).status == 201


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([("_count", "abc")], "_count"),
        ([("date", "tomorrow")], "Invalid date"),
        ([("_sort", "description")], "sort"),
        ([("_include", "Appointment:nothing")], "_include"),
        ([("status:text", "x")], "Modifier"),
        ([("_summary", "true")], "_summary"),
        ([("about", "Goal/x")], "Unknown search parameter"),
    ],
)
def test_bad_searches_are_400(query: list[tuple[str, str]], message: str) -> None:
    store = FhirStore()
    rtype = "Communication" if query[0][0] == "about" else "Appointment"
    with pytest.raises(FhirError) as err:
        store.search(rtype, query)
    assert err.value.status == 400
    assert message in err.value.diagnostics


def test_http_details() -> None:
    store = FhirStore()
    store.load(seed())
    client = create_fhir_app(store=store, auth_enabled=False, base_path="/fhir").test_client()
    read = client.get("/fhir/Goal/goal-p1")
    assert client.get("/fhir/Goal/goal-p1", headers={"If-None-Match": read.headers["ETag"]}).status_code == 304
    assert client.post("/fhir/Goal", data="<Goal/>", headers={"Content-Type": "application/xml"}).status_code == 415
    assert client.get("/fhir/Goal/goal-p1", headers={"Accept": "application/fhir+xml"}).status_code == 406
    assert client.get("/fhir/Unknown/1").status_code == 404
    assert client.patch("/fhir/Goal/goal-p1", json=[]).status_code == 405
    bad = client.post("/fhir", json={"resourceType": "Bundle", "type": "collection"})
    assert bad.status_code == 400
    assert read.headers["Last-Modified"].endswith("GMT")
    page = client.get("/fhir/Goal?_count=1").get_json()
    assert page["link"][1]["url"].startswith("http://localhost/fhir/Goal?")


def test_value_parsing() -> None:
    assert date_range("2026") == ("2026-01-01T00:00:00.000000", "2026-12-31T23:59:59.999999")
    assert date_range("2024-02") == ("2024-02-01T00:00:00.000000", "2024-02-29T23:59:59.999999")
    assert date_range("2026-03-01T10:00:00+01:00") == ("2026-03-01T09:00:00.000000", "2026-03-01T09:00:00.999999")
    assert date_range("2026-13-01") is None
    assert parse_date_search("ge2026-01-01")[:2] == ("ge", "2026-01-01T00:00:00.000000")
    assert split_reference("http://x/fhir/Goal/g1/_history/2") == ("Goal", "g1")
    assert split_reference("urn:uuid:abc") is None
    assert split_reference("#contained") is None


def _steps(store: FhirStore, params: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """The SQLite VM steps (in thousands) a search takes, and the ids it finds: work counted, not timed."""
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    store._conn.set_progress_handler(step, 1000)
    try:
        found = [r["id"] for r in store.search("Observation", params).matches]
    finally:
        store._conn.set_progress_handler(None, 0)
    return steps[0], found


def test_a_sort_by_a_date_or_a_token_reads_each_rows_own_values_not_the_whole_index() -> None:
    """Sorting oldest first (MIN of a date) or by a code (MIN of a token) does the work of sorting newest first:
    SQLite's min/max shortcut would walk the value index once per row, quadratic in the matches (42 s for 20,000
    scores oldest first)."""
    store = FhirStore()
    store.load([{"resourceType": "Patient", "id": "p"}])
    store.load(
        [
            {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final",
                "code": {"coding": [{"system": "urn:x", "code": f"c{i % 7}"}]},
                "subject": {"reference": "Patient/p"},
                "effectiveDateTime": f"2026-01-{1 + i // 60 % 28:02d}T{i // 60 // 28:02d}:{i % 60:02d}:00Z",
            }
            for i in range(1500)
        ]
    )
    base = [("subject", "Patient/p"), ("_count", "20")]
    newest, newest_ids = _steps(store, [*base, ("_sort", "-date")])
    oldest, oldest_ids = _steps(store, [*base, ("_sort", "date")])
    by_code, code_ids = _steps(store, [*base, ("_sort", "code")])
    assert newest_ids[0] == "o1499" and oldest_ids[0] == "o0" and code_ids[0] == "o0"  # the sorts hold
    assert oldest < 3 * newest and by_code < 3 * newest, (newest, oldest, by_code)
