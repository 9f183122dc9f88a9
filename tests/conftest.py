"""Session-wide fixtures shared by every test room."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import medplum_server


@pytest.fixture(scope="session")
def medplum_base() -> Iterator[str]:
    """Base URL of a real Medplum FHIR R4 engine on a free loopback port (started once per session)."""
    with medplum_server() as base:
        yield base
