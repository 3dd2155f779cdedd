"""Settings of the HTTP service: named limits with defaults, also read from env vars."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kmseg import DEFAULT_LIMITS, InvalidParameterError

__all__ = ["ENV_PREFIX", "ServiceSettings"]

ENV_PREFIX = "KMSEG_"
EXECUTORS = ("thread", "process")
_MIB = 1024 * 1024


_RANGES: dict[str, tuple[type, float, float]] = {
    "max_upload_bytes": (int, 1, 2**40),
    "max_pixels": (int, 1, 2**40),
    "max_k": (int, 1, DEFAULT_LIMITS.max_k),
    "max_iter": (int, 1, DEFAULT_LIMITS.max_iter),
    "pool_size": (int, 1, 1024),
    "queue_size": (int, 0, 100_000),
    "processing_timeout": (float, 0.001, 86_400),
    "read_timeout": (float, 0.001, 86_400),
    "retry_after": (int, 0, 86_400),
    "max_connections": (int, 1, 1_000_000),
    "memory_budget": (int, 16 * _MIB, 2**50),
    "max_per_client": (int, 0, 1_000_000),
}
#: The default memory budget: this share of the machine's (or container's) memory ...
MEMORY_SHARE = 0.5
#: ... at most this much.
MEMORY_CAP = 16 * 1024 * _MIB


def _default_pool_size() -> int:
    return max(1, 2 * (os.cpu_count() or 1))


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit if lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total if total > 0 else None


def default_memory_budget() -> int:
    """Half the memory of the machine (or container), at most 16 GiB (1 GiB when unknown)."""
    total = machine_memory()
    if total is None:
        return 1024 * _MIB
    return max(64 * _MIB, min(MEMORY_CAP, int(total * MEMORY_SHARE)))


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and sizes of the HTTP service.

    Every field can also be set from an environment variable named
    ``KMSEG_`` + the field name in upper case (``KMSEG_MAX_PIXELS``,
    ``KMSEG_POOL_SIZE`` ...); the upload limit is also read in megabytes
    (MiB) from ``KMSEG_MAX_UPLOAD_MB``.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body accepted; a larger one is answered 413 as soon as
        the limit is passed (default 25 MiB).
    max_pixels : int
        Largest image (width x height), checked from the image header before
        decoding (default 50 MP); a larger one is answered 413.
    max_k : int
        Largest number of clusters a request may ask for (1..256).
    max_iter : int
        Largest number of k-means iterations a request may ask for.
    pool_size : int
        Threads that decode, cluster and encode at the same time
        (default 2 x CPU cores).
    queue_size : int
        Requests that may wait for a free thread; past ``pool_size +
        queue_size`` requests in progress, new ones get 503 + Retry-After.
    processing_timeout : float
        Seconds a request may wait for and spend in the pool before it is
        answered 503 (default 10).
    read_timeout : float
        Seconds within which the whole request body must have arrived;
        slower uploads are answered 408 (default 30). Under ``kmseg serve``
        the request line and headers have the same time limit.
    retry_after : int
        Seconds advertised in the ``Retry-After`` header of 503 answers.
    max_connections : int
        Connections one server process keeps open (uvicorn's
        ``limit_concurrency``); past it uvicorn answers a plain 503. The
        admission of work is ``pool_size + queue_size``; this is only the
        backstop against idle or never-finished connections.
    executor : {"thread", "process"}
        Where the work runs: threads of the server process, or worker
        processes (the parts of the clustering that hold Python's GIL then
        run in parallel too, at the cost of a process per worker).
    allowed_hosts : tuple of str
        ``Host`` header values answered (a name or address, without the
        port; ``*.example.org`` matches its subdomains; ``*`` any); others get
        400, which stops DNS rebinding. Default: localhost, 127.0.0.1 and
        [::1]; ``kmseg serve`` adds the address it is bound to, and the names
        of ``--allowed-host`` or ``KMSEG_ALLOWED_HOSTS=a.example,b.example``.
    token : str or None
        When set, every request but ``/healthz`` and the pages that only
        read (``GET /``, ``/docs``, ``/openapi.json``) must carry
        ``Authorization: Bearer <token>``; others get 401 (``KMSEG_TOKEN``).
    memory_budget : int
        Bytes that the jobs in the pool may be estimated to need at once
        (default: half the machine's or container's memory, at most 16 GiB).
        Each job's need is estimated from the pixel count in its image's
        header and its options, before decoding; a job that does not fit
        waits within its time limit, then gets 503 + Retry-After; one that
        needs more than the whole budget gets 413. Also read in MiB from
        ``KMSEG_MEMORY_BUDGET_MB``.
    max_per_client : int or None
        Requests in progress one client (IP address) may have; past it the
        client gets 429 + Retry-After. None or 0: no limit (the default;
        ``kmseg serve`` on an address other than loopback sets it to
        ``pool_size``).
    """

    max_upload_bytes: int = DEFAULT_LIMITS.max_upload_bytes
    max_pixels: int = DEFAULT_LIMITS.max_pixels
    max_k: int = DEFAULT_LIMITS.max_k
    max_iter: int = DEFAULT_LIMITS.max_iter
    pool_size: int = field(default_factory=_default_pool_size)
    queue_size: int = 16
    processing_timeout: float = 10.0
    read_timeout: float = 30.0
    retry_after: int = 2
    max_connections: int = 96  # what uvicorn capped connections at before (64 + 32)
    executor: str = "thread"
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    token: str | None = None
    memory_budget: int = field(default_factory=default_memory_budget)
    max_per_client: int | None = None

    def __post_init__(self) -> None:
        if self.max_per_client == 0:
            object.__setattr__(self, "max_per_client", None)
        hosts = (self.allowed_hosts,) if isinstance(self.allowed_hosts, str) else tuple(self.allowed_hosts)
        hosts = tuple(dict.fromkeys(h.strip().lower() for h in hosts if h and h.strip()))
        bad = [h for h in hosts if "*" in h[1:] or (h.startswith("*") and h != "*" and not h.startswith("*."))]
        if not hosts or bad:
            raise InvalidParameterError(
                f"allowed_hosts must be host names ('*.example.org' for subdomains, '*' for any), "
                f"got {self.allowed_hosts!r}",
                param="allowed_hosts",
            )
        object.__setattr__(self, "allowed_hosts", hosts)
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise InvalidParameterError("token must be a non-empty text", param="token")
        if self.executor not in EXECUTORS:
            raise InvalidParameterError(
                f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}", param="executor"
            )
        for name, (kind, low, high) in _RANGES.items():
            value = getattr(self, name)
            if value is None and name == "max_per_client":
                continue
            ok = not isinstance(value, bool) and isinstance(value, (int, float))
            if ok and kind is int:
                ok = float(value).is_integer()
            if not ok or not low <= value <= high:
                what = "a whole number" if kind is int else "a number"
                raise InvalidParameterError(
                    f"{name} must be {what} from {low} to {high}, got {value!r}", param=name
                )
            if kind is int:
                object.__setattr__(self, name, int(value))

    @property
    def capacity(self) -> int:
        """Requests that may be in the pool (running or waiting) at once."""
        return self.pool_size + self.queue_size

    @property
    def memory_budget_mb(self) -> float:
        """The memory budget in MiB."""
        return self.memory_budget / _MIB

    @property
    def max_upload_mb(self) -> float:
        """The upload limit in MiB."""
        return self.max_upload_bytes / _MIB

    def replace(self, **changes: Any) -> ServiceSettings:
        """Return a copy with some fields changed.

        Besides the field names, ``max_upload_mb`` and ``memory_budget_mb``
        (MiB) are accepted; ``None`` values are ignored, so command-line
        options can be passed as they are.

        Raises
        ------
        InvalidParameterError
            For an unknown name or a value out of range.
        """
        changes = {key: value for key, value in changes.items() if value is not None}
        if "max_upload_mb" in changes:
            changes["max_upload_bytes"] = _mb_to_bytes(changes.pop("max_upload_mb"))
        if "memory_budget_mb" in changes:
            changes["memory_budget"] = _mb_to_bytes(changes.pop("memory_budget_mb"), "memory_budget_mb")
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise InvalidParameterError(
                f"unknown service setting {unknown[0]!r}; known: {', '.join(sorted(names))}",
                param=unknown[0],
            )
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read settings from ``KMSEG_*`` environment variables.

        Parameters
        ----------
        environ : mapping, optional
            Where to read; ``os.environ`` by default.

        Raises
        ------
        InvalidParameterError
            When a variable is not a number or out of range (the message
            names the variable).
        """
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key not in env:
                continue
            if f.name == "executor":
                changes[f.name] = env[key].strip().lower()
            elif f.name == "allowed_hosts":  # added to the defaults, like --allowed-host
                changes[f.name] = cls.allowed_hosts + tuple(env[key].split(","))
            elif f.name == "token":
                changes[f.name] = env[key] or None
            else:
                changes[f.name] = _parse_number(key, env[key], f.name)
        mb_key = ENV_PREFIX + "MAX_UPLOAD_MB"
        if mb_key in env and "max_upload_bytes" not in changes:
            changes["max_upload_bytes"] = _mb_to_bytes(_parse_number(mb_key, env[mb_key], "max_upload_mb"))
        mb_key = ENV_PREFIX + "MEMORY_BUDGET_MB"
        if mb_key in env and "memory_budget" not in changes:
            changes["memory_budget"] = _mb_to_bytes(
                _parse_number(mb_key, env[mb_key], "memory_budget_mb"), "memory_budget_mb")
        try:
            return cls().replace(**changes)
        except InvalidParameterError as exc:
            raise InvalidParameterError(
                f"environment variable {ENV_PREFIX}{(exc.param or '').upper()}: {exc}",
                param=exc.param,
            ) from None

    def to_env(self) -> dict[str, str]:
        """The ``KMSEG_*`` variables that make :meth:`from_env` rebuild these settings."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[ENV_PREFIX + f.name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out


def _parse_number(key: str, text: str, param: str) -> int | float:
    try:
        number = float(text)
    except ValueError:
        raise InvalidParameterError(
            f"environment variable {key} must be a number, got {text!r}", param=param
        ) from None
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _mb_to_bytes(mb: float, name: str = "max_upload_mb") -> int:
    if isinstance(mb, bool) or not isinstance(mb, (int, float)) or not 0 < mb <= 2**20:
        raise InvalidParameterError(f"{name} must be a number of MiB above 0, got {mb!r}", param=name)
    return max(1, int(mb * _MIB))
