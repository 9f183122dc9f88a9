"""One running stack (sandbox EPD + app on loopback ports) per attack module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sandbox EPD with the demo data and the app, fresh for each module (some attacks need a clean record)."""
    with running_stack(tmp_path_factory.mktemp("security-stack")) as running:
        yield running
