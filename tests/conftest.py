"""Shared fixtures: real photographs from scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from imagetools import sample_image


@pytest.fixture
def china() -> np.ndarray:
    return sample_image("china.jpg")


@pytest.fixture
def flower() -> np.ndarray:
    return sample_image("flower.jpg")
