"""Colour conversions (sRGB <-> CIELAB under D65, sRGB <-> OKLab) and the
CIEDE2000 difference, and the pair of conversions of every colour space
kmseg clusters in (:func:`to_space`, :func:`from_space`).

All functions take and return float64 arrays of shape (n, 3); RGB values are
on the 0-255 scale. Scales: CIELAB's L* runs from 0 (black) to 100 (white),
a* and b* roughly -128..127; OKLab's L from 0 to 1, a and b roughly
-0.4..0.4 (so squared distances in OKLab are about 10^4 times smaller than
in CIELAB for the same colours).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["COLOR_SPACES", "ciede2000", "from_space", "lab_to_rgb", "oklab_to_rgb", "rgb_to_lab",
           "rgb_to_oklab", "to_space"]

#: The colour spaces kmseg clusters in.
COLOR_SPACES: tuple[str, ...] = ("rgb", "lab", "oklab")

_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_EPS = 216 / 24389
_KAPPA = 24389 / 27


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = c / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return 255.0 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


# Exact for 8-bit inputs, which is nearly always what we convert.
_LINEAR_LUT = _srgb_to_linear(np.arange(256, dtype=np.float64))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB (0-255, any float or integer dtype) to CIELAB under D65.

    Parameters
    ----------
    rgb : (n, 3) array

    Returns
    -------
    lab : (n, 3) float64
        L* in 0-100, a* and b* roughly in -128..127.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        linear = _LINEAR_LUT[rgb]
    else:
        linear = _srgb_to_linear(rgb.astype(np.float64))
    xyz = linear @ (_RGB_TO_XYZ.T / _WHITE_D65)
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[:, 0] = 116 * f[:, 1] - 16
    lab[:, 1] = 500 * (f[:, 0] - f[:, 1])
    lab[:, 2] = 200 * (f[:, 1] - f[:, 2])
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Convert CIELAB (D65) to sRGB on the 0-255 scale, clipped to the gamut.

    Parameters
    ----------
    lab : (n, 3) array

    Returns
    -------
    rgb : (n, 3) float64
    """
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[:, 0] + 16) / 116
    fx = fy + lab[:, 1] / 500
    fz = fy - lab[:, 2] / 200
    f = np.stack([fx, fy, fz], axis=1)
    xyz = np.where(f**3 > _EPS, f**3, (116 * f - 16) / _KAPPA)
    xyz[:, 1] = np.where(lab[:, 0] > _KAPPA * _EPS, fy**3, lab[:, 0] / _KAPPA)
    linear = (xyz * _WHITE_D65) @ _XYZ_TO_RGB.T
    return _linear_to_srgb(linear)


# OKLab (Björn Ottosson, "A perceptual color space for image processing", 2020):
# linear sRGB -> LMS cone responses, cube root, -> L, a, b. The inverses are
# computed, not the published ones rounded to 10 digits, so that a round trip
# is exact to float64 rounding.
_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_OKLAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_LMS_TO_RGB = np.linalg.inv(_RGB_TO_LMS)
_OKLAB_TO_LMS = np.linalg.inv(_LMS_TO_OKLAB)


def rgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB (0-255, any float or integer dtype) to OKLab.

    Parameters
    ----------
    rgb : (n, 3) array

    Returns
    -------
    oklab : (n, 3) float64
        L in 0-1 (white is 1), a and b roughly -0.4..0.4.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(rgb_to_oklab(np.array([[255, 0, 0]], np.uint8)), 5).tolist()
    [[0.62796, 0.22486, 0.12585]]
    """
    rgb = np.asarray(rgb)
    linear = _LINEAR_LUT[rgb] if rgb.dtype == np.uint8 else _srgb_to_linear(rgb.astype(np.float64))
    return np.cbrt(linear @ _RGB_TO_LMS.T) @ _LMS_TO_OKLAB.T


def oklab_to_rgb(oklab: np.ndarray) -> np.ndarray:
    """Convert OKLab to sRGB on the 0-255 scale, clipped to the gamut.

    Parameters
    ----------
    oklab : (n, 3) array

    Returns
    -------
    rgb : (n, 3) float64
    """
    lms = (np.asarray(oklab, dtype=np.float64) @ _OKLAB_TO_LMS.T) ** 3
    return _linear_to_srgb(lms @ _LMS_TO_RGB.T)


def _rgb_as_float(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float64)


_CONVERSIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "rgb": (_rgb_as_float, _rgb_as_float),
    "lab": (rgb_to_lab, lab_to_rgb),
    "oklab": (rgb_to_oklab, oklab_to_rgb),
}


def to_space(color_space: str) -> Callable[[np.ndarray], np.ndarray]:
    """The conversion from sRGB (0-255) into ``color_space`` (one of :data:`COLOR_SPACES`)."""
    return _CONVERSIONS[color_space][0]


def from_space(color_space: str) -> Callable[[np.ndarray], np.ndarray]:
    """The conversion from ``color_space`` back to sRGB (0-255, float64; unclipped for rgb)."""
    return _CONVERSIONS[color_space][1]


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between matching rows of two Lab arrays.

    Parameters
    ----------
    lab1, lab2 : (n, 3) arrays

    Returns
    -------
    delta_e : (n,) float64

    Notes
    -----
    Sharma, Wu and Dalal (2005), with kL = kC = kH = 1.
    """
    L1, a1, b1 = np.asarray(lab1, dtype=np.float64).T
    L2, a2, b2 = np.asarray(lab2, dtype=np.float64).T
    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    c_bar7 = ((c1 + c2) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p = (1 + g) * a1
    a2p = (1 + g) * a2
    c1p = np.hypot(a1p, b1)
    c2p = np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360

    dl = L2 - L1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, dh)
    dh = np.where(dh < -180, dh + 360, dh)
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)

    l_bar = (L1 + L2) / 2
    c_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        np.abs(h1p - h2p) > 180,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
        h_sum / 2,
    )
    h_bar = np.where(c1p * c2p == 0, h_sum, h_bar)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    c_bar7 = c_bar**7
    r_c = 2 * np.sqrt(c_bar7 / (c_bar7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar
    s_h = 1 + 0.015 * c_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt(
        (dl / s_l) ** 2 + (dc / s_c) ** 2 + (dH / s_h) ** 2 + r_t * (dc / s_c) * (dH / s_h)
    )
