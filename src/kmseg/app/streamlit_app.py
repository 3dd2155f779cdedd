"""kmseg web app: upload an image, choose K and iterations, compare, download.

This Streamlit script only lays out the page; the work is done by kmseg's
public API through the helpers in this package. Start it with ``kmseg app``.
"""

from __future__ import annotations

import os
import random
import time
from functools import partial
from typing import NoReturn

import numpy as np
import streamlit as st

import kmseg
from kmseg import options as option_table
from kmseg.app import _cache
from kmseg.app import _views as views
from kmseg.app._compute import animation_downloads, downloads, image_array, png_bytes, rgb_preview
from kmseg.app._example import EXAMPLE_NAME, example_bytes
from kmseg.io import ANIMATED_INPUT_FORMATS
from kmseg.app._state import (digest, download_name, failure_message, format_bytes, option_conflict,
                              settings_from_env, shown_name, sync_pair, widget_defaults, widget_range)


K_SLIDER_MAX = int(widget_range("k_slider")["max_value"])
ITER_SLIDER_MAX = int(widget_range("iter_slider")["max_value"])
SEED_MAX = int(widget_range("seed")["max_value"])
FULL_VIEW_MAX_PIXELS = 16_000_000
SPACES = {"rgb": "RGB", "lab": "CIELAB", "oklab": "OKLab"}
SPATIAL_HELP = option_table.get("spatial_weight").help

st.set_page_config(page_title="kmseg: colour segmentation", page_icon=views.app_icon(), layout="wide")
settings, problems = settings_from_env(os.environ)
state = st.session_state
# Every option widget starts at the option table's default (kmseg.options).
for name, value in (*widget_defaults().items(), ("auto_k", False), ("boundaries", False)):
    state.setdefault(name, value)
# With the Seed box empty, one seed drawn for the session: every result of the
# page (and the "Which K?" curve) uses it until the user types one.
state.setdefault("session_seed", random.randrange(SEED_MAX + 1))


def _set_k(k: int) -> None:
    state["k"] = k
    state["k_slider"] = min(k, K_SLIDER_MAX)


def _new_seed() -> None:
    state["seed"] = random.randrange(SEED_MAX + 1)


def _reset_colours(keys: list[str]) -> None:
    for key in keys:
        state.pop(key, None)


# ---------------------------------------------------------------- sidebar
side = st.sidebar
side.header("Settings")
K_RANGE, ITER_RANGE = widget_range("k"), widget_range("max_iter")
side.slider("Clusters (K)", **widget_range("k_slider"), key="k_slider", disabled=bool(state["auto_k"]),
            on_change=sync_pair, args=(state, "k_slider", "k"))
side.number_input(f"…or type any K ({K_RANGE['min_value']}–{K_RANGE['max_value']})", **K_RANGE,
                  step=1, key="k", on_change=sync_pair, args=(state, "k", "k_slider", K_SLIDER_MAX),
                  disabled=bool(state["auto_k"]))
side.slider("Max iterations", **widget_range("iter_slider"), key="iter_slider",
            on_change=sync_pair, args=(state, "iter_slider", "max_iter"))
side.number_input(f"…or type any ({ITER_RANGE['min_value']}–{ITER_RANGE['max_value']:,})", **ITER_RANGE,
                  step=1, key="max_iter",
                  on_change=sync_pair, args=(state, "max_iter", "iter_slider", ITER_SLIDER_MAX))
side.radio("Colour space", list(SPACES), format_func=SPACES.__getitem__, key="color_space",
           horizontal=True, help="CIELAB and OKLab group colours as the eye sees them; RGB is the classic choice.")
seed_col, dice_col = side.columns([3, 1], vertical_alignment="bottom")
seed_col.number_input("Seed", **widget_range("seed"), step=1, key="seed", placeholder="random",
                      help="Same image, parameters and seed give the same result. Empty: a seed drawn "
                           "at random for this session, shown under the result.")
dice_col.button(":material/casino:", on_click=_new_seed, help="Draw a new random seed")
with side.expander("Advanced", icon=":material/tune:"):
    st.toggle("Automatic K", key="auto_k",
              help="Let kmseg choose K: the elbow of the inertia curve, or the smallest K reaching a PSNR.")
    st.number_input("Target PSNR (dB), empty for the elbow", **widget_range("target_psnr"), step=1.0,
                    key="target_psnr", disabled=not state["auto_k"], placeholder="elbow")
    st.number_input("Spatial weight (0 = colour only)", **widget_range("spatial_weight"), step=0.5,
                    key="spatial_weight",
                    help=f"The {SPATIAL_HELP}. Above 0, far-apart areas of one colour become different "
                         "segments; try 0.5 to 5.")
    st.number_input("Fit size (longest side fitted, spatial only)", **widget_range("fit_size"), step=16,
                    key="fit_size", disabled=state["spatial_weight"] <= 0)
    st.number_input("Min region size in pixels (0 = off)", **widget_range("min_region"), step=1,
                    key="min_region", help="Connected regions smaller than this join their neighbour.")
    st.toggle("Show boundaries", key="boundaries", help="Draw the segment edges on the original.")
    st.toggle("Dither", key="dither",
              help="Floyd–Steinberg dithering of the shown and downloaded picture; labels are unchanged.")
    palette_upload = st.file_uploader("Palette transfer: a palette (.json, .gpl, .css, .txt) or an image",
                                      type=None, key="palette_upload",
                                      max_upload_size=settings.max_upload_mb,
                                      help="Every pixel goes to the nearest colour of this palette; "
                                           "an image is first segmented with K.")
curve_slot = side.container()  # "Which K?": filled at the end, left empty when the image fails
side.divider()
side.caption(settings.limits_text())
for problem in problems:
    side.warning(problem)

# ---------------------------------------------------------------- source and images
st.title("kmseg · K-means colour segmentation")
st.caption("Every pixel is painted with the colour of its cluster. Choose K and the iterations "
           "in the sidebar; the result updates as you go.")
# Any file type is accepted here: kmseg decides from the content and explains a refusal.
uploaded = st.file_uploader("Upload an image: PNG, JPEG, WebP, GIF, BMP or TIFF", type=None,
                            max_upload_size=settings.max_upload_mb, key="upload",
                            help=settings.limits_text())
if uploaded is None:
    data, source = example_bytes(), EXAMPLE_NAME
    st.info("No image uploaded yet, so this is the built-in example (a synthetic landscape, CC0). "
            "Upload your own above.", icon=":material/image:")
elif uploaded.size > settings.max_upload_bytes:
    st.error(f"**{shown_name(uploaded.name)}** is {format_bytes(uploaded.size)}; this app accepts files up to "
             f"{format_bytes(settings.max_upload_bytes)}. Try a smaller or more compressed file.")
    st.stop()
else:
    data, source = uploaded.getvalue(), uploaded.name

k, max_iter, space = int(state["k"]), int(state["max_iter"]), state["color_space"]
seed_fixed = state["seed"] is not None
seed = int(state["seed"]) if seed_fixed else int(state["session_seed"])
key = digest(data)
auto_k = bool(state["auto_k"])
target_psnr = float(state["target_psnr"]) if auto_k and state["target_psnr"] else None
spatial_weight = float(state["spatial_weight"] or 0.0)
fit_size = int(state["fit_size"]) if spatial_weight > 0 else int(widget_defaults()["fit_size"])  # cache key
min_region, dither = int(state["min_region"] or 0), bool(state["dither"])


def _fail(exc: Exception) -> NoReturn:
    """Show what went wrong with the image, in the page, and end this run."""
    st.error(failure_message(source, exc))  # the page shows a message, never a traceback
    st.stop()


try:
    loaded = _cache.load(key, settings.max_pixels, data)
except Exception as exc:  # noqa: BLE001
    _fail(exc)
side_px = settings.preview_side
original_small = views.downscale_index(image_array(loaded), side_px)
left, right = st.columns(2)
left.image(original_small, caption=f"Original {source} · {loaded.width}×{loaded.height}",
           width="stretch", output_format="PNG" if loaded.alpha is not None else "JPEG")
palette_key, palette_given = None, None
k_arg: int | str | None = "auto" if auto_k else k
conflict = option_conflict(auto_k, spatial_weight, palette_upload is not None)
if conflict is not None:
    st.error(conflict)
    st.stop()
if palette_upload is not None:
    palette_data = palette_upload.getvalue()
    palette_key = digest(palette_data)
    try:
        palette_given = _cache.palette_source(palette_key, palette_upload.name, palette_data)
    except Exception as exc:  # noqa: BLE001
        source = palette_upload.name  # the message names the palette file
        _fail(exc)
    if isinstance(palette_given, np.ndarray):
        k_arg = None  # the palette file gives K
    elif auto_k:
        st.error(f"**{shown_name(palette_upload.name)}**: a palette taken from an image needs a whole-number K; "
                 "turn off Automatic K.")
        st.stop()
try:
    with right, st.spinner("Clustering…"):
        asked_at = time.time()
        seg, finished_at = _cache.segment(key, k_arg, max_iter, space, seed, settings.max_pixels, loaded,
                                          spatial_weight, fit_size, min_region, target_psnr, dither,
                                          palette_key, palette_given)
except Exception as exc:  # noqa: BLE001
    _fail(exc)
from_cache = finished_at < asked_at

# ---------------------------------------------------------------- palette state
run_id = (f"{key}-{k_arg}-{max_iter}-{space}-{seed}-{spatial_weight}-{fit_size}-{min_region}-"
          f"{target_psnr}-{palette_key}")  # dither changes only the picture, not the clusters
default_hex = [views.hex_color(c) for c in seg.palette]
picker_keys = [f"colour-{run_id}-{i}" for i in range(seg.k)]
current_hex = [state.get(pk, dh).lower() for pk, dh in zip(picker_keys, default_hex, strict=True)]
edited = np.array([views.parse_hex(h) for h in current_hex], dtype=np.uint8)
is_edited = current_hex != default_hex
result = seg.recolor(edited) if is_edited else seg
highlight_key = f"highlight-{run_id}"
selected = state.get(highlight_key)
order = views.display_order(seg.shares)

# ---------------------------------------------------------------- result
labels_small = views.downscale_index(seg.labels, side_px)
alpha_small = None if seg.alpha is None else views.downscale_index(seg.alpha, side_px)
table = edited if selected is None else views.highlight_palette(edited, selected)
if dither and selected is None:
    shown = views.downscale_index(rgb_preview(result), side_px)
else:
    shown = views.preview_png(labels_small, table, alpha_small)
detail = f" · cluster #{selected + 1} highlighted" if selected is not None else ""
detail += " · recoloured" if is_edited else ""
detail += " · auto K" if auto_k else ""
detail += f" · palette from {palette_upload.name}" if palette_upload is not None else ""
detail += " · dithered" if dither else ""
right.image(shown, caption=f"Segmented {source} · K = {seg.k} · {SPACES[space]}{detail}",
            width="stretch", output_format="PNG")
if labels_small.shape != seg.labels.shape:
    st.caption(f"Shown scaled to {labels_small.shape[1]}×{labels_small.shape[0]}; downloads are full size "
               f"({seg.width}×{seg.height}).")
for note in dict.fromkeys((*loaded.notes, *seg.notes)):
    st.caption(f":material/info: {note}")
if spatial_weight > 0:
    st.caption(f":material/info: Spatial weight {spatial_weight:g}: the {SPATIAL_HELP}. The higher it is, "
               "the more the segments become compact blobs of similar size; lower it (0.5 to 2) to "
               "follow the colours more closely.")

summary = _cache.figures(run_id, seg)  # kmseg.summarize: the figures --json and the API show
figures = st.container(horizontal=True, gap="small")
figure = partial(figures.metric, border=True, width="content")
figure("Clusters", summary["k"], help=f"Asked for {summary['k_requested']}; an image with fewer "
       "distinct colours gives fewer clusters.")
figure("Iterations", summary["n_iter"], help=f"At most {max_iter}.")
figure("Converged", "yes" if summary["converged"] else "no",
       help="No: the iteration limit was reached first; raise it for a steadier result.")
figure("Inertia", views.format_inertia(summary["inertia"]),
       help=f"Sum of squared {SPACES[space]} distances of pixels to their cluster centre.")
figure("Seed", summary["seed"], help="Type it in Seed to repeat this result." if not seed_fixed
       else "The seed you chose.")
figure("Time", f"{summary['seconds']:.2f} s", delta="from cache" if from_cache else None,
       delta_color="off", delta_arrow="off", help="Time spent in kmseg.segment for this result.")
figure("PSNR", "inf dB" if summary["psnr"] is None else f"{summary['psnr']:.1f} dB",
       help="Peak signal-to-noise ratio of result against original.")
figure("ΔE mean", f"{summary['delta_e_mean']:.2f}", help=f"CIEDE2000 colour difference; 95th percentile "
       f"{summary['delta_e_p95']:.2f}.")
if "regions" in summary:
    figure("Regions", f"{summary['regions']:,}", help=f"Connected regions after merging those under {min_region} "
           f"pixels; {summary['regions_before']:,} before.")
    st.caption(f"Regions: {summary['regions_before']:,} before merging, {summary['regions']:,} after "
               f"(min region {min_region:,} pixels).")

if "k_curve" in summary:
    how = f"the smallest K reaching {target_psnr:g} dB" if target_psnr is not None else "the elbow"
    st.markdown(f"**Automatic K chose K = {seg.k}** ({how}).")
    curve_ks = [point["k"] for point in summary["k_curve"]]
    curve_psnr = [point["psnr"] for point in summary["k_curve"]]
    st.line_chart({"K": curve_ks, "PSNR (dB)": curve_psnr}, x="K", y="PSNR (dB)", height=200)
    st.caption("K tried by the automatic choice and the PSNR each reached (Segmentation.k_curve).")

if state["boundaries"]:
    st.image(views.boundary_overlay(original_small, labels_small), caption=f"Segment boundaries on {source}",
             width="stretch", output_format="PNG")
    edges = _cache.boundaries(run_id, seg, image_array(loaded))
    st.download_button("Boundaries (PNG)", partial(png_bytes, edges), file_name=download_name(
        source, f"k{seg.k}-boundaries", "png"), mime="image/png", key="download-boundaries",
        on_click="ignore", icon=":material/download:", help="Full size, one-pixel red edges, as "
        "kmseg segment --boundaries writes them; the preview draws them wider to be seen.")

if st.toggle("Compare at full size", key="fullsize"):
    c1, c2 = st.columns([3, 1])
    split = c1.slider("Split: result on the left, original on the right", 0, 100, 50, key="split")
    zoom = c2.segmented_control("Zoom", [1, 2, 4], default=1, format_func=lambda z: f"{z}×",
                                key="zoom") or 1
    fit = views.side_for_pixels(seg.width, seg.height, FULL_VIEW_MAX_PIXELS)  # keep the data URI sane
    labels_full = views.downscale_index(seg.labels, fit)
    original_full = views.downscale_index(image_array(loaded), fit)
    alpha_full = None if seg.alpha is None else views.downscale_index(seg.alpha, fit)
    if labels_full.shape != seg.labels.shape:
        st.caption(f"Shown at {labels_full.shape[1]}×{labels_full.shape[0]}: images over "
                   f"{FULL_VIEW_MAX_PIXELS // 1_000_000} MP are scaled down for this view.")
    painted = (views.downscale_index(rgb_preview(result), fit) if dither
               else views.paint(labels_full, edited, alpha_full))
    full = views.wipe(original_full, painted, split / 100)
    st.html(views.full_size_html(full, zoom))

# ---------------------------------------------------------------- palette
st.subheader("Palette")
st.html(views.chips_html(edited, seg.shares, seg.counts, selected))
st.pills("Highlight a cluster (the others are dimmed)", order, key=highlight_key,
         format_func=lambda i: f"#{i + 1} {current_hex[i]} · {seg.shares[i] * 100:.1f}%")
with st.expander("Recolour clusters", expanded=is_edited, icon=":material/palette:"):
    st.caption("Pick a new colour for any cluster; the result and the downloads follow, "
               "without clustering again.")
    ncols = min(6, seg.k)
    cols = st.columns(ncols)
    for j, i in enumerate(order):
        cols[j % ncols].color_picker(f"#{i + 1} · {seg.shares[i] * 100:.1f}%", default_hex[i],
                                     key=picker_keys[i])
    st.button("Reset colours", on_click=_reset_colours, args=(picker_keys,), disabled=not is_edited)

# ---------------------------------------------------------------- downloads
st.subheader("Downloads")
st.caption(f"Full size, {seg.width}×{seg.height}" + (", with your colours." if is_edited else "."))
items = downloads(result, source)
buttons = st.container(horizontal=True)
for item in items:
    buttons.download_button(item.label, item.make, file_name=item.file_name, mime=item.mime,
                            key=f"download-{item.key}", on_click="ignore", icon=":material/download:",
                            type="primary" if item.key == "png" else "secondary")

# ---------------------------------------------------------------- animation
# The page above shows an animation's first frame; here all frames share one palette.
if loaded.format in ANIMATED_INPUT_FORMATS and any(n.startswith("first of ") for n in loaded.notes):
    st.subheader("Animation")
    try:
        with st.spinner("Clustering every frame…"):
            anim, shown_animation = _cache.segment_animation(key, k_arg, max_iter, space, seed,
                                                             settings.max_pixels, data, palette_key, palette_given)
    except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
        st.error(failure_message(source, exc))
    else:
        st.image(shown_animation, caption=f"All {anim.n_frames} frames of {source} · one palette of "
                 f"K = {anim.k} for every frame", width="content")
        st.caption("The frames are clustered together, so a colour keeps its cluster in every frame and "
                   "nothing flickers. Min region, spatial weight, dither and recolouring work on one "
                   "image and are not applied here.")
        anim_buttons = st.container(horizontal=True)
        for item in animation_downloads(anim, source):
            anim_buttons.download_button(item.label, item.make, file_name=item.file_name, mime=item.mime,
                                         key=f"download-{item.key}", on_click="ignore",
                                         icon=":material/download:")

# ---------------------------------------------------------------- inertia against K
# The curve and the elbow are those of Automatic K (k="auto", with this image,
# colour space, iterations and seed), so the hint names the K it would choose.
with curve_slot:
    st.subheader("Which K?")
    try:
        with st.spinner("Fitting K = 1…16…"):
            curve_seg, _ = _cache.segment(key, "auto", max_iter, space, seed, settings.max_pixels, loaded)
    except kmseg.KmsegError as exc:
        st.caption(f"No chart: {exc}")
    else:
        curve = curve_seg.k_curve or ()
        ks, inertias = [int(c[0]) for c in curve], [float(c[1]) for c in curve]
        st.line_chart({"K": ks, "inertia": inertias}, x="K", y="inertia", height=200)
        best = curve_seg.k
        st.caption(f"Inertia for K = 1…{ks[-1]}. Past the elbow, more clusters help little. "
                   f"The elbow is at **K = {best}**, the K that Automatic K chooses.")
        if best != k and not auto_k:
            st.button(f"Use K = {best}", on_click=_set_k, args=(best,), key="use-elbow")
