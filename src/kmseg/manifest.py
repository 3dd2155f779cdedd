"""Deprecated: moved to :mod:`kmseg.batch.manifest` (kept so that old imports work)."""

import warnings

from kmseg.batch.manifest import *  # noqa: F403
from kmseg.batch.manifest import __all__  # noqa: F401

warnings.warn("kmseg.manifest moved to kmseg.batch.manifest; import it from there", DeprecationWarning, stacklevel=2)
