"""The public steps segment() is made of, called alone: each does its one
job, their composition gives what segment() gives, and their examples run."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from imagetools import quadrants, same_partition, sample_image

import kmseg
from kmseg import _result, _steps


@pytest.mark.parametrize("module", [_steps, _result])
def test_the_docstring_examples_run(module):
    failed, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failed == 0


def test_fit_palette_finds_the_quadrants():
    image, truth = quadrants()
    fit = kmseg.fit_palette(image, 4, seed=0)
    assert fit.k == 4 and fit.palette.dtype == np.uint8 and fit.centers.shape == (4, 3)
    assert same_partition(kmseg.apply_palette(image, fit), truth)


def test_a_histogram_is_the_distinct_colours_and_their_counts():
    image = sample_image("flower.jpg")[::4, ::4]
    hist = kmseg.color_histogram(image)
    colors, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    order = np.lexsort(hist.colors.T[::-1])
    assert np.array_equal(hist.colors[order], colors)
    assert np.array_equal(hist.counts[order], counts)


def test_transparent_pixels_are_not_counted():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[0, 0] = (9, 9, 9, 0)  # a colour seen only under a transparent pixel
    hist = kmseg.color_histogram(rgba)
    assert dict(zip(map(tuple, hist.colors.tolist()), hist.counts.tolist())) == {(0, 0, 0): 3.0, (9, 9, 9): 0.0}


@pytest.mark.parametrize("color_space", ["rgb", "lab"])
@pytest.mark.parametrize("k", [4, 16])
def test_the_steps_give_what_segment_gives(k, color_space):
    image = sample_image("china.jpg")[::3, ::3]
    whole = kmseg.segment(image, k, seed=7, color_space=color_space)
    hist = kmseg.color_histogram(image)
    fit = kmseg.fit_palette(hist, k, seed=7, color_space=color_space)
    assert np.array_equal(kmseg.apply_palette(hist, fit), whole.labels)
    assert np.array_equal(fit.palette, whole.palette)
    assert fit.inertia == whole.inertia and fit.n_iter == whole.n_iter


def test_choose_k_is_what_k_auto_does():
    image = sample_image("flower.jpg")[::4, ::4]
    whole = kmseg.segment(image, "auto", seed=3)
    fit = kmseg.choose_k(image, seed=3)
    assert fit.k == whole.k and fit.k_curve == whole.k_curve
    assert np.array_equal(kmseg.apply_palette(fit.histogram, fit), whole.labels)


def test_apply_palette_takes_the_nearest_given_colour():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    colours = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    before = image.copy()
    labels = kmseg.apply_palette(image, colours)
    distances = ((image[:, :, None, :].astype(float) - colours[None, None].astype(float)) ** 2).sum(axis=3)
    assert np.array_equal(labels, distances.argmin(axis=2))
    assert np.array_equal(image, before)  # the caller's array is not modified


def test_a_fit_applies_to_another_image():
    image, truth = quadrants(seed=0)
    other, other_truth = quadrants(seed=1)
    fit = kmseg.fit_palette(image, 4, seed=0)
    assert same_partition(kmseg.apply_palette(other, fit), other_truth)


def test_merge_small_regions_by_hand():
    labels = np.zeros((4, 4), np.uint8)
    labels[:, 2:] = 1
    labels[0, 0] = 2  # one pixel inside region 0
    merged = kmseg.merge_small_regions(labels, 2)
    expected = np.zeros((4, 4), np.uint8)
    expected[:, 2:] = 1
    assert np.array_equal(merged.labels, expected)
    assert (merged.regions, merged.regions_before) == (2, 3)
    assert labels[0, 0] == 2  # not modified


def test_the_spatial_steps_give_what_segment_gives():
    image = sample_image("china.jpg")[::4, ::4]
    whole = kmseg.segment(image, 6, seed=2, spatial_weight=2.0)
    fit = kmseg.fit_spatial(image, 6, 2.0, seed=2)
    labels = kmseg.apply_spatial(image, fit)
    assert np.array_equal(labels, whole.labels) and np.array_equal(fit.palette, whole.palette)
    assert np.allclose(fit.positions, whole.positions)


@pytest.mark.parametrize(("call", "param"), [
    (lambda img: kmseg.fit_palette(img, "auto"), "k"),
    (lambda img: kmseg.fit_palette(img, 0), "k"),
    (lambda img: kmseg.choose_k(img, target_psnr=0.5), "target_psnr"),
    (lambda img: kmseg.fit_spatial(img, 4, 0), "spatial_weight"),
    (lambda img: kmseg.merge_small_regions(np.zeros((2, 2), np.uint8), -1), "min_region"),
    (lambda img: kmseg.apply_palette(img, [(1, 2)]), "palette"),
])
def test_bad_arguments_name_the_parameter(call, param):
    image, _ = quadrants(16)
    with pytest.raises(kmseg.InvalidParameterError) as info:
        call(image)
    assert info.value.param == param
