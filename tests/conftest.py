"""Shared fixtures: real photographs from scikit-learn; commands started early (early.py)."""

from __future__ import annotations

import numpy as np
import pytest
from early import Early
from imagetools import sample_image


@pytest.fixture
def china() -> np.ndarray:
    return sample_image("china.jpg")


@pytest.fixture
def flower() -> np.ndarray:
    return sample_image("flower.jpg")


_STARTED: list[Early] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    for item in session.items:
        marker = item.get_closest_marker("early")
        if marker is not None:
            marker.args[0].start()
            _STARTED.append(marker.args[0])


def pytest_sessionfinish(session: pytest.Session) -> None:
    for command in _STARTED:
        command.stop()
