"""The exceptions kmseg raises: one base class, a few precise kinds."""

from __future__ import annotations

__all__ = [
    "DeadlineExceeded",
    "ImageDecodeError",
    "ImageTooLargeError",
    "InvalidParameterError",
    "KmsegError",
    "UnsupportedFormatError",
]


class KmsegError(Exception):
    """Base class of every error kmseg raises on bad input or parameters."""


class InvalidParameterError(KmsegError, ValueError):
    """A parameter is out of range or of the wrong kind (K, max_iter, ...).

    Attributes
    ----------
    param : str or None
        The name of the offending parameter, as the library spells it.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ImageDecodeError(KmsegError):
    """The input is not an image we can read: empty, corrupt, truncated."""


class UnsupportedFormatError(ImageDecodeError):
    """The input is an image format kmseg does not open (SVG, EPS, PDF, ...)."""


class ImageTooLargeError(KmsegError):
    """The image has more pixels than the configured limit allows."""


class DeadlineExceeded(KmsegError, TimeoutError):
    """The work was stopped: its :class:`kmseg.Deadline` expired or was cancelled."""


def printable(text: object) -> str:
    """``text`` with control characters escaped (``\\n`` as the two
    characters ``\\`` ``n``), so that a file name holding a newline cannot
    split, or forge, a line of a message that quotes it."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
