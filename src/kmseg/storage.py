"""Deprecated: moved to :mod:`kmseg.batch.storage` (kept so that old imports work)."""

import warnings

from kmseg.batch.storage import *  # noqa: F403
from kmseg.batch.storage import __all__  # noqa: F401

warnings.warn("kmseg.storage moved to kmseg.batch.storage; import it from there", DeprecationWarning, stacklevel=2)
