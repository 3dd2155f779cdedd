"""Animations segmented as a whole: one palette for every frame (kmseg.segment_frames)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence

import kmseg

COLOURS = np.array([(230, 40, 40), (40, 200, 60), (40, 60, 220), (240, 220, 40), (30, 210, 220),
                    (200, 50, 210)], dtype=np.uint8)
DURATIONS = [80, 120, 200, 60, 150, 90]  # multiples of 10 ms: a GIF stores hundredths


def truth(n_frames: int = 6, h: int = 24, w: int = 36) -> np.ndarray:
    """(F, H, W) index of the true colour: the left half still (three bands),
    the right half a pattern sliding one step per frame; frame 3 repeats frame 0."""
    index = np.empty((n_frames, h, w), dtype=np.int64)
    for f in range(n_frames):
        index[f, :, : w // 2] = (np.arange(h)[:, None] // (h // 3)) % 3
        index[f, :, w // 2:] = 3 + (np.arange(w - w // 2)[None, :] // 4 + f % 3) % 3
    return index


def noisy_frames(index: np.ndarray, noise: int = 6, seed: int = 1) -> np.ndarray:
    """The true colours plus seeded noise; frame 3 is a copy of frame 0 (noise too)."""
    rng = np.random.default_rng(seed)
    rgb = COLOURS[index].astype(np.int64) + rng.integers(-noise, noise + 1, index.shape + (3,))
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    rgb[3] = rgb[0]
    return rgb


def encode(frames: np.ndarray, fmt: str, durations: list[int], loop: int | None = 0,
           alpha: np.ndarray | None = None, **extra: object) -> bytes:
    """Frames encoded by Pillow itself, as another program would write them."""
    mode = "RGB" if alpha is None else "RGBA"
    ims = [Image.fromarray(f if alpha is None else np.dstack([f, a]), mode)
           for f, a in zip(frames, alpha if alpha is not None else [None] * len(frames))]
    kwargs: dict = {"save_all": True, "append_images": ims[1:], "duration": durations, **extra}
    if loop is not None:
        kwargs["loop"] = loop
    if fmt == "WEBP":
        kwargs["lossless"] = True
    buf = io.BytesIO()
    ims[0].save(buf, fmt, **kwargs)
    return buf.getvalue()


def decoded(data: bytes) -> tuple[np.ndarray, list[int], object, list[object]]:
    """Every frame as RGBA, the durations, the loop count and the disposal, read by Pillow."""
    with Image.open(io.BytesIO(data)) as im:
        loop = im.info.get("loop")
        frames, durations, disposal = [], [], []
        for frame in ImageSequence.Iterator(im):
            frame.load()
            frames.append(np.asarray(frame.convert("RGBA")))
            durations.append(int(round(frame.info["duration"])))
            disposal.append(getattr(frame, "disposal_method", frame.info.get("disposal")))
    return np.stack(frames), durations, loop, disposal


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings group the pixels alike, whatever the numbering."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


def flicker(rgb: np.ndarray, static: np.ndarray) -> float:
    """Mean colour change (Euclidean, RGB) of the static pixels from one frame to the next."""
    steps = np.diff(rgb[..., :3].astype(np.float64), axis=0)
    return float(np.sqrt((steps ** 2).sum(-1))[:, static].mean())


def static_pixels(index: np.ndarray) -> np.ndarray:
    return (index == index[0]).all(axis=0)


# ------------------------------------------------------------------ library


def test_six_shared_colours_come_back_as_six_clusters_with_the_same_labels_in_every_frame() -> None:
    index = truth()
    anim = kmseg.segment_frames(encode(noisy_frames(index), "PNG", DURATIONS), 6, seed=0)
    assert anim.n_frames == 6 and anim.k == 6 and anim.labels.shape == index.shape
    assert same_partition(anim.labels, index)
    # each cluster's colour is its true colour (the noise averages out)
    for c in range(6):
        found = anim.palette[anim.labels[index == c][0]].astype(int)
        assert np.abs(found - COLOURS[c]).max() <= 2, (c, found)
    assert np.array_equal(anim.labels[3], anim.labels[0])  # identical frames, identical labels
    assert anim.counts.sum() == index.size


def test_one_histogram_over_all_frames_finds_a_colour_seen_in_one_frame_only() -> None:
    # frame 0 is all black but one small white square; the other frames are black and grey:
    # fitted frame by frame, or on frame 0 only, white would not be among the colours.
    rgb = np.zeros((4, 16, 16, 3), np.uint8)
    rgb[0, :4, :4] = 255
    rgb[1:, 8:] = 128
    anim = kmseg.segment_frames(kmseg.Frames(rgb, None, (100,) * 4), 3, seed=0)
    assert sorted(map(tuple, anim.palette.tolist())) == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]
    first = kmseg.segment(rgb[0], 3, seed=0)
    assert first.k == 2  # the first frame alone has two colours


def test_the_figures_are_those_of_all_frames_together() -> None:
    index = truth()
    rgb = noisy_frames(index)
    anim = kmseg.segment_frames(kmseg.Frames(rgb, None, tuple(DURATIONS)), 6, seed=0)
    out = anim.palette[anim.labels].astype(np.float64)
    mse = ((out - rgb) ** 2).mean()
    assert anim.psnr == pytest.approx(10 * np.log10(255 ** 2 / mse))
    s = anim.summary()
    assert (s["frames"], s["width"], s["height"], s["durations"]) == (6, 36, 24, DURATIONS)
    assert s["k"] == 6 and len(s["palette"]) == 6


@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_the_written_animation_has_no_flicker_on_still_pixels(fmt: str) -> None:
    index = truth()
    anim = kmseg.segment_frames(encode(noisy_frames(index), "PNG", DURATIONS), 6, seed=0)
    rgb, durations, _, _ = decoded(anim.to_bytes(fmt))
    assert rgb.shape[0] == 6
    assert flicker(rgb, static_pixels(index)) == 0
    assert flicker(noisy_frames(index), static_pixels(index)) > 0  # the input itself flickers


def test_per_frame_quantisation_flickers_where_the_whole_does_not() -> None:
    """The figure can fail: segmenting frame by frame moves the still pixels' colours."""
    index = truth()
    rgb = noisy_frames(index, noise=12)
    per_frame = np.stack([kmseg.segment(f, 6, seed=0).to_image().convert("RGB") for f in rgb])
    assert flicker(per_frame, static_pixels(index)) > 0
    anim = kmseg.segment_frames(kmseg.Frames(rgb, None, tuple(DURATIONS)), 6, seed=0)
    assert flicker(anim.palette[anim.labels], static_pixels(index)) == 0


@pytest.mark.parametrize(("source", "target"), [("GIF", "gif"), ("PNG", "png"), ("WEBP", "webp"),
                                                ("GIF", "webp"), ("WEBP", "png")])
def test_durations_and_loop_survive_a_round_trip(source: str, target: str) -> None:
    index = truth()
    frames = COLOURS[index].astype(np.uint8)  # few colours: a GIF holds them exactly
    data = encode(frames, source, DURATIONS, loop=3)
    anim = kmseg.segment_frames(data, 6, seed=0)
    assert anim.durations == tuple(DURATIONS) and anim.loop == 3
    rgb, durations, loop, _ = decoded(anim.to_bytes(target))
    assert durations == DURATIONS and loop == 3
    assert np.array_equal(rgb[..., :3], frames)  # six exact colours come back exactly


@pytest.mark.parametrize("fmt", ["GIF", "PNG"])
def test_disposal_survives_a_round_trip(fmt: str) -> None:
    frames = COLOURS[truth()].astype(np.uint8)
    codes = [1, 2, 1, 2, 1, 1] if fmt == "GIF" else [0, 1, 0, 1, 0, 0]
    extra = {"disposal": codes}
    if fmt == "PNG":
        extra["blend"] = 0
    data = encode(frames, fmt, DURATIONS, **extra)
    anim = kmseg.segment_frames(data, 6, seed=0)
    assert anim.disposal == ("none", "background", "none", "background", "none", "none")
    _, _, _, disposal = decoded(anim.to_bytes(fmt.lower()))
    assert disposal == codes


def test_a_gif_without_a_loop_count_is_written_without_one() -> None:
    frames = COLOURS[truth()].astype(np.uint8)
    anim = kmseg.segment_frames(encode(frames, "GIF", DURATIONS, loop=None), 6, seed=0)
    assert anim.loop is None
    _, _, loop, _ = decoded(anim.to_bytes("gif"))
    assert loop is None


@pytest.mark.parametrize("target", ["gif", "png", "webp"])
def test_transparency_is_kept_per_frame_and_not_clustered(target: str) -> None:
    index = truth()
    frames = COLOURS[index].astype(np.uint8)
    alpha = np.full(index.shape, 255, np.uint8)
    alpha[1, :6, :6] = 0  # a hole in frame 1 only
    alpha[4, -5:, -5:] = 0
    frames[1, :6, :6] = (255, 255, 255)  # colours under the hole are not clustered
    anim = kmseg.segment_frames(encode(frames, "PNG", DURATIONS, alpha=alpha), 6, seed=0)
    assert anim.k == 6 and anim.counts.sum() == (alpha > 0).sum()
    assert (255, 255, 255) not in map(tuple, anim.palette.tolist())
    rgb, _, _, _ = decoded(anim.to_bytes(target))
    assert np.array_equal(rgb[..., 3] > 127, alpha > 127)
    shown = alpha > 0
    assert np.array_equal(rgb[..., :3][shown], COLOURS[index][shown])


def test_a_gif_with_transparency_and_256_clusters_is_refused_with_the_fix() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    alpha = np.full((2, 32, 32), 255, np.uint8)
    alpha[0, 0, 0] = 0
    anim = kmseg.segment_frames(kmseg.Frames(rgb, alpha, (100, 100)), 256, seed=0, n_init=1, max_iter=2)
    with pytest.raises(kmseg.InvalidParameterError, match="at most 255"):
        anim.to_bytes("gif")
    assert anim.to_bytes("png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_label_maps_are_written_as_a_greyscale_animation() -> None:
    index = truth()
    anim = kmseg.segment_frames(encode(COLOURS[index].astype(np.uint8), "PNG", DURATIONS), 6, seed=0)
    with Image.open(io.BytesIO(anim.label_bytes())) as im:
        assert im.n_frames == 6 and im.mode == "L"
        got = np.stack([np.asarray(f.copy()) for f in ImageSequence.Iterator(im)])
        assert im.info["kmseg-frames"] == "6"
    assert np.array_equal(got, anim.labels)


def test_save_picks_the_format_from_the_extension_atomically(tmp_path) -> None:
    anim = kmseg.segment_frames(encode(COLOURS[truth()].astype(np.uint8), "PNG", DURATIONS), 6, seed=0)
    for name, magic in (("a.gif", b"GIF89a"), ("a.png", b"\x89PNG"), ("a.webp", b"RIFF")):
        path = anim.save(tmp_path / name)
        assert path.read_bytes().startswith(magic)
    with pytest.raises(kmseg.InvalidParameterError, match="gif, png .APNG. or webp"):
        anim.save(tmp_path / "a.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "a.png", "a.webp"]


def test_a_still_image_gives_one_frame() -> None:
    img = COLOURS[truth()[0]].astype(np.uint8)
    anim = kmseg.segment_frames(img, 6, seed=0)
    assert anim.n_frames == 1 and np.array_equal(anim.labels[0], kmseg.segment(img, 6, seed=0).labels)


def test_the_same_seed_gives_the_same_labels_as_segment_on_the_stacked_frames() -> None:
    rgb = noisy_frames(truth(), noise=20)
    anim = kmseg.segment_frames(kmseg.Frames(rgb, None, tuple(DURATIONS)), 4, seed=7)
    stacked = kmseg.segment(rgb.reshape(-1, rgb.shape[2], 3), 4, seed=7)
    assert np.array_equal(anim.labels.reshape(stacked.labels.shape), stacked.labels)
    assert anim.seed == 7 and anim.params["frames"] == "all"


@pytest.mark.parametrize(("name", "value"), [("min_region", 10), ("spatial_weight", 0.5), ("dither", True)])
def test_per_frame_options_are_refused_naming_the_option(name: str, value: object) -> None:
    with pytest.raises(kmseg.InvalidParameterError, match=f"{name} is not available") as info:
        kmseg.segment_frames(kmseg.Frames(np.zeros((2, 4, 4, 3), np.uint8), None, (10, 10)), 2, **{name: value})
    assert info.value.param == name


# ------------------------------------------------------------------ limits


def test_the_frame_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(COLOURS[truth()].astype(np.uint8), "GIF", DURATIONS)
    with pytest.raises(kmseg.ImageTooLargeError, match="6 frames, more than the limit of 5; raise max_frames"):
        kmseg.segment_frames(data, 6, max_frames=5)
    monkeypatch.setenv("KMSEG_MAX_FRAMES", "4")
    with pytest.raises(kmseg.ImageTooLargeError, match="limit of 4"):
        kmseg.load_frames(data)
    assert kmseg.load_frames(data, max_frames=6).n_frames == 6
    assert kmseg.DEFAULT_LIMITS.max_frames == 1000


def test_all_frames_together_count_against_the_pixel_limit() -> None:
    data = encode(COLOURS[truth()].astype(np.uint8), "WEBP", DURATIONS)  # 6 frames of 36 x 24
    one_frame = 36 * 24
    assert kmseg.load_image(data, max_pixels=one_frame).width == 36  # the first frame alone fits
    with pytest.raises(kmseg.ImageTooLargeError, match="6 frames of 36 x 24 = 5,184 pixels in all"):
        kmseg.segment_frames(data, 6, max_pixels=6 * one_frame - 1)
    assert kmseg.segment_frames(data, 6, max_pixels=6 * one_frame, seed=0).n_frames == 6


def test_a_corrupt_later_frame_is_a_decode_error() -> None:
    data = encode(COLOURS[truth()].astype(np.uint8), "GIF", DURATIONS)
    broken = data[: len(data) * 2 // 3]
    with pytest.raises(kmseg.ImageDecodeError):
        kmseg.segment_frames(broken, 6)


# ------------------------------------------------------------------ still GIF output


def test_a_still_segmentation_is_written_as_gif_with_its_colours_and_transparency() -> None:
    rgb = COLOURS[truth()[0]].astype(np.uint8)
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:5, :5] = 0
    seg = kmseg.segment(np.dstack([rgb, alpha]), 6, seed=0)
    with Image.open(io.BytesIO(seg.to_bytes("gif"))) as im:
        assert im.format == "GIF"
        got = np.asarray(im.convert("RGBA"))
    assert np.array_equal(got[..., 3] > 0, alpha > 0)
    assert np.array_equal(got[..., :3][alpha > 0], rgb[alpha > 0])
    with pytest.raises(kmseg.InvalidParameterError, match="quality"):
        seg.to_bytes("gif", quality=80)
