"""Fixtures of the HTTP service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi", reason="the api extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from kmseg.api import ServiceSettings, create_app  # noqa: E402

#: A host the app answers to by default (TestClient's own "testserver" is not one).
BASE_URL = "http://localhost"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """A client of the app with default settings (the pool's lifespan running)."""
    with TestClient(create_app(ServiceSettings()), base_url=BASE_URL, raise_server_exceptions=False) as c:
        yield c


def make_client(**settings: object) -> TestClient:
    """A client of an app with some settings changed; use it as a context manager."""
    return TestClient(create_app(ServiceSettings().replace(**settings)), base_url=BASE_URL,
                      raise_server_exceptions=False)
