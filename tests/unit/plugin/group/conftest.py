"""Fixtures of the group area's page tests."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.sync.repository import GroupRepository, LoadedGroup


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[LoadedGroup]:
    """Every load of a group the test makes the app do, in order (to count a page's loads and their extent)."""
    seen: list[LoadedGroup] = []
    load = GroupRepository.load

    def spy(self: GroupRepository, plan_id: str | None = None, **options: Any) -> LoadedGroup:
        loaded = load(self, plan_id, **options)
        seen.append(loaded)
        return loaded

    monkeypatch.setattr(GroupRepository, "load", spy)
    return seen
