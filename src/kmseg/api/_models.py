"""Pydantic models of the JSON answers (they document the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["ColorEntry", "CurvePoint", "HealthBody", "PaletteBody", "palette_body"]


class ColorEntry(BaseModel):
    """One cluster: its colour and how much of the image it covers."""

    index: int = Field(ge=0, description="The cluster's label in the label map (0..k-1).")
    hex: str = Field(pattern=r"^#[0-9a-f]{6}$", description="The colour as #rrggbb.")
    rgb: list[int] = Field(min_length=3, max_length=3, description="The colour as [r, g, b], 0..255.")
    count: int = Field(ge=0, description="Pixels in this cluster.")
    share: float = Field(ge=0, le=1, description="Fraction of the image's pixels in this cluster.")


class CurvePoint(BaseModel):
    """One K tried by k=auto."""

    k: int = Field(ge=1, description="The K fitted.")
    inertia: float | None = Field(description="Its inertia.")
    psnr: float | None = Field(description="Its PSNR in dB (null when identical to the original).")


class PaletteBody(BaseModel):
    """The palette and figures of one segmentation run."""

    palette: list[ColorEntry] = Field(description="The clusters, in label order.")
    k: int = Field(
        ge=1, description="Clusters found (can be below k_requested when the image has fewer colours)."
    )
    k_requested: int = Field(ge=1, description="Clusters asked for.")
    inertia: float | None = Field(
        description="Sum of squared distances of pixels to their centre (in the colour space used)."
    )
    iterations: int = Field(ge=0, description="Lloyd iterations run.")
    converged: bool = Field(description="Whether the run converged before max_iter.")
    color_space: Literal["rgb", "lab", "oklab"] = Field(description="The colour space clustered in.")
    seed: int = Field(
        description="The seed used (drawn at random when none was given); send it back to repeat the run."
    )
    width: int = Field(ge=1, description="Image width in pixels.")
    height: int = Field(ge=1, description="Image height in pixels.")
    metrics: bool = Field(
        description="Whether psnr and delta_e_* were computed (the request's metrics field)."
    )
    psnr: float | None = Field(
        description="PSNR of the segmented image against the original, dB; null without metrics=true "
        "or when the images are identical."
    )
    delta_e_mean: float | None = Field(
        description="Mean CIEDE2000 colour difference to the original (metrics=true)."
    )
    delta_e_p95: float | None = Field(
        description="95th percentile of the CIEDE2000 difference (metrics=true)."
    )
    seconds: float = Field(ge=0, description="Seconds spent clustering.")
    server_seconds: float = Field(
        ge=0, description="Seconds spent decoding, clustering and encoding on the server."
    )
    notes: list[str] = Field(default_factory=list, description="Remarks about the run or the input.")
    k_auto: bool = Field(default=False, description='Whether K was chosen automatically (k="auto").')
    k_chosen: int | None = Field(
        default=None, description='With k="auto": the K chosen (also in k); null otherwise.'
    )
    k_curve: list[CurvePoint] | None = Field(
        default=None, description='With k="auto": every K tried, in order, with inertia and PSNR.'
    )
    regions: int | None = Field(
        default=None,
        description="With min_region > 0: connected regions (4-connectivity) left after merging.",
    )
    regions_before: int | None = Field(
        default=None, description="With min_region > 0: connected regions before merging."
    )
    spatial_weight: float = Field(default=0.0, description="The spatial_weight used (0: colour only).")
    dither: bool = Field(default=False, description="Whether the segmented image is dithered.")


class HealthBody(BaseModel):
    """The service's state."""

    status: Literal["ok"] = "ok"
    version: str = Field(description="kmseg's version.")
    pool_size: int = Field(description="Workers (threads or processes) that run segmentations at once.")
    queue_size: int = Field(description="Requests that may wait for a thread.")
    in_progress: int = Field(description="Requests running or waiting now (in this server process).")


def palette_body(summary: dict[str, Any], palette_rgb: list[list[int]], server_seconds: float) -> PaletteBody:
    """Build the JSON answer from ``Segmentation.summary()`` and the RGB palette."""
    colours = [
        ColorEntry(index=i, hex=hex_.lower(), rgb=[int(c) for c in rgb], count=int(count), share=float(share))
        for i, (hex_, rgb, count, share) in enumerate(
            zip(summary["palette"], palette_rgb, summary["counts"], summary["shares"], strict=True)
        )
    ]
    return PaletteBody(
        palette=colours,
        k=summary["k"],
        k_requested=summary["k_requested"],
        inertia=summary.get("inertia"),
        iterations=summary["n_iter"],
        converged=summary["converged"],
        color_space=summary["color_space"],
        seed=summary["seed"],
        width=summary["width"],
        height=summary["height"],
        metrics=bool(summary.get("metrics")),
        psnr=summary.get("psnr"),
        delta_e_mean=summary.get("delta_e_mean"),
        delta_e_p95=summary.get("delta_e_p95"),
        seconds=summary.get("seconds") or 0.0,
        server_seconds=server_seconds,
        notes=list(summary.get("notes") or []),
        k_auto=bool(summary.get("k_auto")),
        k_chosen=summary.get("k_chosen"),
        k_curve=summary.get("k_curve"),
        regions=summary.get("regions"),
        regions_before=summary.get("regions_before"),
        spatial_weight=float(summary.get("spatial_weight") or 0.0),
        dither=bool(summary.get("dither")),
    )
