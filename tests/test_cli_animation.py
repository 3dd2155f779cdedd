"""``kmseg segment`` on animated inputs, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_kmseg
from PIL import Image
from test_animation import COLOURS, DURATIONS, decoded, encode, flicker, noisy_frames, static_pixels, truth

import kmseg


@pytest.fixture
def anim_files(tmp_path: Path) -> Path:
    index = truth()
    (tmp_path / "anim.gif").write_bytes(encode(COLOURS[index].astype(np.uint8), "GIF", DURATIONS, loop=2))
    (tmp_path / "anim.webp").write_bytes(encode(noisy_frames(index), "WEBP", DURATIONS, loop=2))
    (tmp_path / "anim.png").write_bytes(encode(noisy_frames(index), "PNG", DURATIONS, loop=2))
    return tmp_path


@pytest.mark.parametrize(("source", "output"), [("anim.gif", "out.gif"), ("anim.webp", "out.webp"),
                                                ("anim.png", "out.png"), ("anim.webp", "out.gif")])
def test_an_animation_to_an_animated_format_is_segmented_as_a_whole(anim_files: Path, source: str,
                                                                    output: str) -> None:
    proc = run_kmseg("segment", source, "-k", 6, "-o", output, "--seed", 0, "--json", cwd=anim_files)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)["images"][0]
    assert record["k"] == 6 and record["frames"] == 6, record
    rgb, durations, loop, _ = decoded((anim_files / output).read_bytes())
    assert rgb.shape[0] == 6 and durations == DURATIONS and loop == 2
    assert flicker(rgb, static_pixels(truth())) == 0
    colours = {tuple(c) for c in rgb[..., :3].reshape(-1, 3).tolist()}
    assert len(colours) == 6


def test_the_default_output_of_an_animation_is_an_apng_with_its_label_animation(anim_files: Path) -> None:
    proc = run_kmseg("segment", "anim.webp", "-k", 6, "--seed", 0, "--labels", "labels.png",
                     "--palette", "p.json", cwd=anim_files)
    assert proc.returncode == 0, proc.stderr
    with Image.open(anim_files / "anim-k6.png") as im:
        assert im.n_frames == 6
    with Image.open(anim_files / "labels.png") as im:
        assert im.n_frames == 6 and im.mode == "L"
    assert len(json.loads((anim_files / "p.json").read_text())["colors"]) == 6


def test_first_frame_matches_segment_on_the_first_frame(anim_files: Path) -> None:
    proc = run_kmseg("segment", "anim.webp", "-k", 6, "--first-frame", "-o", "first.png", "--seed", 3,
                     "--labels", "first-labels.png", cwd=anim_files)
    assert proc.returncode == 0, proc.stderr
    first = kmseg.segment(noisy_frames(truth())[0], 6, seed=3)
    with Image.open(anim_files / "first-labels.png") as im:
        assert getattr(im, "n_frames", 1) == 1
        assert np.array_equal(np.asarray(im), first.labels)
    with Image.open(anim_files / "first.png") as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), first.palette[first.labels])


def test_a_still_output_format_keeps_the_first_frame(anim_files: Path) -> None:
    proc = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "still.jpg", "--seed", 0, "--json", cwd=anim_files)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)["images"][0]
    assert "frames" not in record and any("first of 6 frames" in n for n in record["notes"])


def test_the_frame_limit_is_a_clear_failure_without_outputs(anim_files: Path) -> None:
    proc = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "out.gif", cwd=anim_files, KMSEG_MAX_FRAMES="5")
    assert proc.returncode == 1
    assert ("kmseg: failed: anim.gif: animation has 6 frames, more than the limit of 5; raise max_frames "
            "(or KMSEG_MAX_FRAMES in the environment)") in proc.stderr
    assert "Traceback" not in proc.stderr and not (anim_files / "out.gif").exists()
    ok = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "first.gif", "--first-frame", cwd=anim_files,
                   KMSEG_MAX_FRAMES="5")
    assert ok.returncode == 0, ok.stderr


def test_the_pixel_limit_counts_every_frame(anim_files: Path) -> None:
    proc = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "out.gif", "--max-pixels", 36 * 24 * 6 - 1,
                     cwd=anim_files)
    assert proc.returncode == 1 and "6 frames of 36 x 24 = 5,184 pixels in all" in proc.stderr


@pytest.mark.parametrize("option", [["--min-region", "5"], ["--dither"], ["--masks", "m/"], ["--svg", "a.svg"],
                                    ["--boundaries", "b.png"]])
def test_per_frame_options_on_a_whole_animation_say_to_use_first_frame(anim_files: Path, option: list[str]) -> None:
    proc = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "out.gif", *option, cwd=anim_files)
    assert proc.returncode == 1 and "--first-frame" in proc.stderr and "Traceback" not in proc.stderr
    assert not (anim_files / "out.gif").exists()
    ok = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "out.gif", *option, "--first-frame", cwd=anim_files)
    assert ok.returncode == 0, ok.stderr


def test_quality_is_refused_for_gif_output(anim_files: Path) -> None:
    proc = run_kmseg("segment", "anim.gif", "-k", 6, "-o", "out.gif", "--quality", 80, cwd=anim_files)
    assert proc.returncode == 2 and "--quality applies to jpg and webp output; GIF is lossless" in proc.stderr


def test_a_folder_of_animations_and_stills_writes_gifs(anim_files: Path) -> None:
    (anim_files / "in").mkdir()
    (anim_files / "anim.gif").rename(anim_files / "in" / "anim.gif")
    Image.fromarray(COLOURS[truth()[0]].astype(np.uint8)).save(anim_files / "in" / "still.png")
    proc = run_kmseg("segment", "in", "-k", 6, "-o", "out/", "--format", "gif", "--seed", 0, cwd=anim_files)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (anim_files / "out").iterdir() if p.suffix == ".gif")
    assert names == ["anim-k6.gif", "still-k6.gif"]
    with Image.open(anim_files / "out" / "still-k6.gif") as im:
        assert getattr(im, "n_frames", 1) == 1
        assert {c for _, c in im.convert("RGB").getcolors()} == set(map(tuple, COLOURS.tolist()))
    with Image.open(anim_files / "out" / "anim-k6.gif") as im:
        assert im.n_frames == 6


def test_the_corpus_gif_of_1000_frames_is_segmented_whole_within_the_default_limit(tmp_path: Path) -> None:
    from corpus.make_corpus import by_name

    (tmp_path / "frames.gif").write_bytes(by_name("gif_1000_frames").make())
    proc = run_kmseg("segment", "frames.gif", "-k", 12, "-o", "out.gif", "--seed", 0, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "out.gif") as im:
        assert im.n_frames == 1000 and im.info["loop"] == 0
    over = run_kmseg("segment", "frames.gif", "-k", 12, "-o", "over.gif", cwd=tmp_path, KMSEG_MAX_FRAMES="999")
    assert over.returncode == 1 and "1,000 frames, more than the limit of 999" in over.stderr
