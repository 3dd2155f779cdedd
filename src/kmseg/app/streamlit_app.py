"""kmseg web app: upload an image, choose K and iterations, compare, download.

This Streamlit script only lays out the page; the work is done by kmseg's
public API through the helpers in this package. Start it with ``kmseg app``.
"""

from __future__ import annotations

import os
import random
import time

import numpy as np
import streamlit as st

import kmseg
from kmseg.app import _cache
from kmseg.app import _views as views
from kmseg.app._compute import downloads, image_array
from kmseg.app._example import EXAMPLE_NAME, example_bytes
from kmseg.app._state import digest, format_bytes, settings_from_env, sync_pair

K_SLIDER_MAX = 24
ITER_SLIDER_MAX = 64
CURVE_KS = tuple(range(1, 17))
SEED_MAX = 2**32 - 1
IMAGE_TYPES = ["png", "jpg", "jpeg", "jpe", "jfif", "webp", "gif", "bmp", "dib", "tif", "tiff"]
SPACES = {"rgb": "RGB", "lab": "CIELAB"}

st.set_page_config(page_title="kmseg: colour segmentation", page_icon="🎨", layout="wide")
settings, problems = settings_from_env(os.environ)
state = st.session_state
for name, value in (("k", 8), ("k_slider", 8), ("max_iter", 25), ("iter_slider", 25),
                    ("color_space", "rgb"), ("seed", 0)):  # fmt: skip
    state.setdefault(name, value)


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
side.slider("Clusters (K)", 1, K_SLIDER_MAX, key="k_slider",
            on_change=sync_pair, args=(state, "k_slider", "k"))
side.number_input(f"…or type any K (1–{kmseg.DEFAULT_LIMITS.max_k})", 1, kmseg.DEFAULT_LIMITS.max_k,
                  step=1, key="k", on_change=sync_pair, args=(state, "k", "k_slider", K_SLIDER_MAX))
side.slider("Max iterations", 1, ITER_SLIDER_MAX, key="iter_slider",
            on_change=sync_pair, args=(state, "iter_slider", "max_iter"))
side.number_input(f"…or type any (1–{kmseg.DEFAULT_LIMITS.max_iter})", 1, kmseg.DEFAULT_LIMITS.max_iter,
                  step=1, key="max_iter",
                  on_change=sync_pair, args=(state, "max_iter", "iter_slider", ITER_SLIDER_MAX))
side.radio("Colour space", list(SPACES), format_func=SPACES.__getitem__, key="color_space",
           horizontal=True, help="CIELAB groups colours as the eye sees them; RGB is the classic choice.")
seed_col, dice_col = side.columns([3, 1], vertical_alignment="bottom")
seed_col.number_input("Seed", 0, SEED_MAX, step=1, key="seed",
                      help="Same image, parameters and seed give the same result.")
dice_col.button("🎲", on_click=_new_seed, help="Draw a new random seed")
side.subheader("Which K?")
curve_slot = side.container()
side.divider()
side.caption(settings.limits_text())
for problem in problems:
    side.warning(problem)

# ---------------------------------------------------------------- source
st.title("kmseg · K-means colour segmentation")
st.caption("Every pixel is painted with the colour of its cluster. Choose K and the iterations "
           "in the sidebar; the result updates as you go.")
uploaded = st.file_uploader("Upload an image: PNG, JPEG, WebP, GIF, BMP or TIFF", type=IMAGE_TYPES,
                            max_upload_size=settings.max_upload_mb, key="upload",
                            help=settings.limits_text())
if uploaded is None:
    data, source = example_bytes(), EXAMPLE_NAME
    st.info("No image uploaded yet, so this is the built-in example (a synthetic landscape, CC0). "
            "Upload your own above.", icon="🖼️")
elif uploaded.size > settings.max_upload_bytes:
    st.error(f"**{uploaded.name}** is {format_bytes(uploaded.size)}; this app accepts files up to "
             f"{format_bytes(settings.max_upload_bytes)}. Try a smaller or more compressed file.")
    st.stop()
else:
    data, source = uploaded.getvalue(), uploaded.name

k, max_iter, space, seed = int(state["k"]), int(state["max_iter"]), state["color_space"], int(state["seed"])
key = digest(data)
try:
    with st.spinner(f"Clustering into {k} colours…"):
        loaded = _cache.load(key, settings.max_pixels, data)
        asked_at = time.time()
        seg, finished_at = _cache.segment(key, k, max_iter, space, seed, settings.max_pixels, loaded)
except kmseg.KmsegError as exc:
    st.error(f"**{source}**: {exc}")
    st.stop()
except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
    st.error(f"**{source}** could not be processed ({type(exc).__name__}: {exc}).")
    st.stop()
from_cache = finished_at < asked_at

# ---------------------------------------------------------------- palette state
run_id = f"{key}-{k}-{max_iter}-{space}-{seed}"
default_hex = [views.hex_color(c) for c in seg.palette]
picker_keys = [f"colour-{run_id}-{i}" for i in range(seg.k)]
current_hex = [state.get(pk, dh) for pk, dh in zip(picker_keys, default_hex, strict=True)]
edited = np.array([views.parse_hex(h) for h in current_hex], dtype=np.uint8)
is_edited = current_hex != default_hex
result = seg.recolor(edited) if is_edited else seg
highlight_key = f"highlight-{run_id}"
selected = state.get(highlight_key)
order = views.display_order(seg.shares)

# ---------------------------------------------------------------- images
side_px = settings.preview_side
labels_small = views.downscale_index(seg.labels, side_px)
alpha_small = None if seg.alpha is None else views.downscale_index(seg.alpha, side_px)
if selected is None:
    shown = views.paint(labels_small, edited, alpha_small)
else:
    shown = views.highlight(labels_small, edited, selected, alpha_small)
original_small = views.downscale_index(image_array(loaded), side_px)

left, right = st.columns(2)
left.image(original_small, caption=f"Original {source} · {loaded.width}×{loaded.height}",
           width="stretch", output_format="PNG" if loaded.alpha is not None else "JPEG")
detail = f" · cluster #{selected + 1} highlighted" if selected is not None else ""
detail += " · recoloured" if is_edited else ""
right.image(shown, caption=f"Segmented {source} · K = {seg.k} · {SPACES[space]}{detail}",
            width="stretch", output_format="PNG")
if shown.shape[:2] != seg.labels.shape:
    st.caption(f"Shown scaled to {shown.shape[1]}×{shown.shape[0]}; downloads are full size "
               f"({seg.width}×{seg.height}).")
for note in dict.fromkeys((*loaded.notes, *seg.notes)):
    st.caption(f"ℹ️ {note}")

m = st.columns(7)
m[0].metric("Clusters found", seg.k, help=f"Asked for {seg.k_requested}; an image with fewer "
            "distinct colours gives fewer clusters.")
m[1].metric("Iterations", seg.n_iter, help=f"At most {max_iter}.")
m[2].metric("Converged", "yes" if seg.converged else "no",
            help="No: the iteration limit was reached first; raise it for a steadier result.")
m[3].metric("Inertia", views.format_inertia(seg.inertia),
            help=f"Sum of squared {SPACES[space]} distances of pixels to their cluster centre.")
m[4].metric("Time", f"{seg.seconds * 1000:.0f} ms", "from cache" if from_cache else None,
            delta_color="off", help="Time spent in kmseg.segment for this result.")
m[5].metric("PSNR", f"{seg.psnr:.1f} dB", help="Peak signal-to-noise ratio of result against original.")
m[6].metric("ΔE mean", f"{seg.delta_e_mean:.2f}", help=f"CIEDE2000 colour difference; 95th "
            f"percentile {seg.delta_e_p95:.2f}.")

if st.toggle("Compare at full size", key="fullsize"):
    c1, c2 = st.columns([3, 1])
    split = c1.slider("Split: result on the left, original on the right", 0, 100, 50, key="split")
    zoom = c2.segmented_control("Zoom", [1, 2, 4], default=1, format_func=lambda z: f"{z}×",
                                key="zoom") or 1
    full = views.wipe(image_array(loaded), views.paint(seg.labels, edited, seg.alpha), split / 100)
    st.html(views.full_size_html(full, zoom))

# ---------------------------------------------------------------- palette
st.subheader("Palette")
st.html(views.chips_html(edited, seg.shares, seg.counts, selected))
st.pills("Highlight a cluster (the others are dimmed)", order, key=highlight_key,
         format_func=lambda i: f"#{i + 1} {current_hex[i]} · {seg.shares[i] * 100:.1f}%")
with st.expander("Recolour clusters", expanded=is_edited, icon="🎨"):
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
for col, item in zip(st.columns(len(items)), items, strict=True):
    col.download_button(item.label, item.make, file_name=item.file_name, mime=item.mime,
                        key=f"download-{item.key}", on_click="ignore", icon=":material/download:",
                        type="primary" if item.key == "png" else "secondary")

# ---------------------------------------------------------------- inertia against K
with curve_slot:
    try:
        with st.spinner("Computing inertia for K = 1…16…"):
            rows = _cache.curve(key, CURVE_KS, max_iter, space, seed, settings.curve_pixels, loaded)
    except kmseg.KmsegError as exc:
        st.caption(f"No chart: {exc}")
    else:
        st.line_chart({"K": [r["K"] for r in rows], "inertia": [r["inertia"] for r in rows]},
                      x="K", y="inertia", height=200)
        best = views.suggest_k([r["K"] for r in rows], [r["inertia"] for r in rows])
        text = "Inertia for K = 1…16 (estimated on a scaled copy). Past the elbow, more clusters help little."
        if best is not None:
            text += f" The elbow is near **K = {best}**."
        st.caption(text)
        if best is not None and best != k:
            st.button(f"Use K = {best}", on_click=_set_k, args=(best,), key="use-elbow")
