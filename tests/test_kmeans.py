"""The generic weighted k-means: a hand-worked case, properties, an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kmseg


def test_hand_worked_weighted_case():
    # Two groups on a line; weights pull each centre: (0*1 + 2*3)/4 = 1.5 and
    # (10*2 + 13*1)/3 = 11. Inertia: 1*1.5^2 + 3*0.5^2 + 2*1^2 + 1*2^2 = 9.
    X = np.array([[0.0], [2.0], [10.0], [13.0]])
    w = np.array([1.0, 3.0, 2.0, 1.0])
    result = kmseg.kmeans(X, 2, sample_weight=w, seed=0, tol=0)
    order = np.argsort(result.centers[:, 0])
    assert result.centers[order, 0] == pytest.approx([1.5, 11.0])
    assert result.inertia == pytest.approx(9.0)
    assert result.converged
    assert list(order[result.labels]) == [0, 0, 1, 1]


def test_k_equal_n_gives_zero_inertia():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    result = kmseg.kmeans(X, 3, seed=1)
    assert result.inertia == pytest.approx(0.0)
    assert sorted(map(tuple, result.centers.tolist())) == sorted(map(tuple, X.tolist()))


@pytest.mark.parametrize(
    "kwargs, param",
    [({"k": 0}, "k"), ({"k": 5}, "k"), ({"max_iter": 0}, "max_iter"), ({"n_init": 0}, "n_init"),
     ({"tol": -1}, "tol"), ({"seed": -3}, "seed"), ({"sample_weight": [1, 2]}, "sample_weight")],
)
def test_bad_parameters_name_the_parameter(kwargs, param):
    X = np.arange(8.0).reshape(4, 2)
    args = {"k": 2, **kwargs}
    with pytest.raises(kmseg.InvalidParameterError) as info:
        kmseg.kmeans(X, **args)
    assert info.value.param == param
    assert param in str(info.value)


def test_nan_input_is_refused():
    with pytest.raises(kmseg.InvalidParameterError, match="NaN"):
        kmseg.kmeans(np.array([[0.0], [np.nan]]), 1)


points = hnp.arrays(
    np.float64,
    st.tuples(st.integers(3, 40), st.integers(1, 3)),
    elements=st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 2)),
)


@settings(max_examples=60, deadline=None)
@given(X=points, k=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_properties(X, k, seed):
    k = min(k, X.shape[0])
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 4, X.shape[0]).astype(float)
    result = kmseg.kmeans(X, k, sample_weight=w, seed=seed, tol=0, max_iter=500)
    d = ((X[:, None, :] - result.centers[None]) ** 2).sum(axis=2)
    # Labels are nearest centres (up to ties).
    assert np.all(d[np.arange(len(X)), result.labels] <= d.min(axis=1) + 1e-9)
    # Inertia is the weighted squared distance to the assigned centres.
    direct = float(w @ d[np.arange(len(X)), result.labels])
    assert result.inertia == pytest.approx(direct, rel=1e-9, abs=1e-7)
    # Weights are repeats: on the repeated data the centres are a fixed point
    # of Lloyd (every non-empty cluster's centre is the mean of its points).
    if result.converged:
        Xr = np.repeat(X, w.astype(int), axis=0)
        dr = ((Xr[:, None, :] - result.centers[None]) ** 2).sum(axis=2)
        lab = dr.argmin(axis=1)
        for c in np.unique(lab):
            assert Xr[lab == c].mean(axis=0) == pytest.approx(result.centers[c], abs=1e-6)
        assert float(dr.min(axis=1).sum()) == pytest.approx(result.inertia, rel=1e-9, abs=1e-7)


def test_same_seed_same_result():
    X = np.random.default_rng(3).normal(size=(500, 3))
    a = kmseg.kmeans(X, 7, seed=11)
    b = kmseg.kmeans(X, 7, seed=11)
    assert np.array_equal(a.centers, b.centers) and np.array_equal(a.labels, b.labels)


def test_matches_scikit_learn_inertia():
    from sklearn.cluster import KMeans

    X = np.random.default_rng(5).normal(size=(3000, 3)) * [1, 5, 2]
    ours = kmseg.kmeans(X, 8, seed=0, n_init=4)
    ref = KMeans(8, n_init=4, random_state=0).fit(X)
    assert ours.inertia <= ref.inertia_ * 1.01


def test_more_clusters_than_a_palette_holds():
    # Image labels are uint8 (K <= 256); the generic k-means has no such bound.
    X = np.random.default_rng(8).normal(size=(400, 2))
    result = kmseg.kmeans(X, 300, seed=0)
    d = ((X[:, None, :] - result.centers[None]) ** 2).sum(axis=2)
    assert result.labels.max() >= 256 and np.all(d[np.arange(400), result.labels] <= d.min(axis=1) + 1e-12)
    assert result.inertia == pytest.approx(float(d[np.arange(400), result.labels].sum()), rel=1e-9, abs=1e-12)
