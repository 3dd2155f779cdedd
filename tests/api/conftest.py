"""Fixtures of the HTTP service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi", reason="the api extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from kmseg.api import ServiceSettings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """A client of the app with default settings (the pool's lifespan running)."""
    with TestClient(create_app(ServiceSettings()), raise_server_exceptions=False) as c:
        yield c


def make_client(**settings: object) -> TestClient:
    """A client of an app with some settings changed; use it as a context manager."""
    return TestClient(create_app(ServiceSettings().replace(**settings)), raise_server_exceptions=False)
