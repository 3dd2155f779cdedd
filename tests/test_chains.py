"""The compiled walk along a permutation's cycles (kmseg.engine.walk_chains),
which the SVG tracing uses to cut rings of pixel edges into chains, checked
against a plain Python walk on random permutations."""

from __future__ import annotations

import numpy as np
import pytest

from kmseg.engine import walk_chains


def python_walk(nxt: np.ndarray, head: np.ndarray, key: np.ndarray):
    n = nxt.size
    head = head.copy()
    seen = np.zeros(n, bool)
    for i in range(n):  # every cycle, found from its smallest element
        if seen[i]:
            continue
        cycle, j = [], i
        while not seen[j]:
            seen[j] = True
            cycle.append(j)
            j = nxt[j]
        if not head[cycle].any():
            head[min(cycle, key=lambda e: (key[e], e))] = True
    chain = np.full(n, -1)
    order, bounds = [], [0]
    for c, i in enumerate(np.flatnonzero(head)):
        j = i
        while True:
            chain[j] = c
            order.append(j)
            j = nxt[j]
            if head[j]:
                break
        bounds.append(len(order))
    return head, chain, np.array(order, dtype=np.int64), np.array(bounds, dtype=np.int64)


@pytest.mark.parametrize("seed", range(10))
def test_walk_matches_a_python_walk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    nxt = rng.permutation(n)
    head = rng.random(n) < [0.0, 0.02, 0.3][seed % 3]  # none, few (cycles with no head), many
    key = rng.permutation(n)  # distinct, as the corners of one ring are
    got = walk_chains(nxt, head, key)
    want = python_walk(nxt, head, key)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert not head.any() or got[0][head].all()  # the heads given stay heads


def test_not_a_permutation_is_refused() -> None:
    with pytest.raises(ValueError, match="permutation"):
        walk_chains(np.array([0, 0, 1]), np.zeros(3, bool), np.arange(3))
    with pytest.raises(ValueError, match="one length"):
        walk_chains(np.array([1, 0]), np.zeros(3, bool), np.arange(2))
