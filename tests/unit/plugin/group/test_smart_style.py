"""Styling hints from the EHR's smart_style_url: only well-formed colours become CSS variables."""

from __future__ import annotations

import responses

from plugin.group import views


@responses.activate
def test_colours_are_taken_and_anything_else_is_dropped() -> None:
    views._STYLE_CACHE.clear()
    responses.get(
        "https://ehr.example/style.json",
        json={
            "color_background": "#fafafa",
            "color_highlight": "rgb(11, 92, 173)",
            "color_text": "red; } body { display: none",  # an injection attempt: not a colour
            "color_border": "url(https://evil.example/x.png)",
            "font_family_body": "Comic Sans",
        },
    )
    styles = views.smart_style("https://ehr.example/style.json")
    assert styles == {"--bg": "#fafafa", "--accent": "rgb(11, 92, 173)"}
    # cached: a second call makes no request
    assert views.smart_style("https://ehr.example/style.json") == styles
    assert len(responses.calls) == 1


@responses.activate
def test_unusable_style_urls_give_no_styles() -> None:
    views._STYLE_CACHE.clear()
    responses.get("https://ehr.example/broken.json", body="not json")
    assert views.smart_style("https://ehr.example/broken.json") == {}
    assert views.smart_style("javascript:alert(1)") == {}
    assert views.smart_style(None) == {}
