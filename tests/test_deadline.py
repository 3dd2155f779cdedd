"""segment(..., deadline=): work stops between its passes once its deadline expires or is cancelled."""

from __future__ import annotations

import pickle
import sys
import threading

import numpy as np
import pytest

import kmseg
from kmseg import Deadline, DeadlineExceeded


def _noisy(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """Four coloured quadrants plus noise: many distinct colours, clear clusters."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.int16)
    img[: h // 2, : w // 2] = (200, 40, 40)
    img[: h // 2, w // 2 :] = (40, 200, 40)
    img[h // 2 :, : w // 2] = (40, 40, 200)
    img[h // 2 :, w // 2 :] = (220, 220, 60)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


class Recording(Deadline):
    """A deadline that records where it is checked (functions on the stack)
    and cancels itself at check number ``cancel_at`` (never when None)."""

    def __init__(self, cancel_at: int | None = None) -> None:
        super().__init__()
        self.cancel_at = cancel_at
        self.places: list[set[str]] = []
        self._lock = threading.Lock()

    def check(self) -> None:
        frame, names = sys._getframe(1), set()
        while frame is not None:
            names.update(frame.f_code.co_qualname.split("."))  # a lambda's outer function counts
            frame = frame.f_back
        with self._lock:
            self.places.append(names)
            if self.cancel_at is not None and len(self.places) >= self.cancel_at:
                self.cancel()
        super().check()


CASES = {
    # option set -> functions that must check the deadline while it runs
    "restarts and Lloyd": ({"k": 24, "max_iter": 300}, {"seed_plusplus", "refine"}),
    "spatial": ({"k": 6, "spatial_weight": 2.0, "fit_size": 64}, {"fit", "assign", "segments"}),
    "regions": ({"k": 8, "min_region": 50}, {"merge_small"}),
    "auto-K elbow": ({"k": "auto"}, {"run", "full"}),
    "auto-K target": ({"k": "auto", "target_psnr": 35.0}, {"run", "_grow"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_stage_checks_the_deadline_and_a_cancel_stops_the_run_there(name):
    options, places = CASES[name]
    image = _noisy()
    full = Recording()
    seg = kmseg.segment(image, seed=1, deadline=full, **options)
    seen = set().union(*full.places)
    assert places <= seen, f"{name}: no check in {sorted(places - seen)}"
    # Cancelled at each of a few checks along the run: the run stops at that check.
    for at in sorted({2, len(full.places) // 2, len(full.places)}):
        stopping = Recording(cancel_at=at)
        with pytest.raises(DeadlineExceeded, match="cancelled"):
            kmseg.segment(image, seed=1, deadline=stopping, **options)
        # Threads already running, and restarts already queued, stop at their next check.
        assert len(stopping.places) <= at + 16
    # An unexpired deadline changes nothing.
    again = kmseg.segment(image, seed=1, deadline=Deadline(3600), **options)
    assert np.array_equal(again.labels, seg.labels) and again.inertia == seg.inertia


def test_an_expired_time_limit_stops_a_long_run():
    image = _noisy(240, 320)
    with pytest.raises(DeadlineExceeded, match="time limit of 0.05 s") as caught:
        kmseg.segment(image, 256, max_iter=10_000, tol=0.0, seed=0, deadline=0.05)
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, kmseg.KmsegError)


def test_a_deadline_cancelled_from_another_thread_stops_the_run():
    image = _noisy(240, 320)
    deadline = Deadline()
    started = threading.Event()

    class Signalling(Deadline):
        def check(self) -> None:
            started.set()
            deadline.check()

    timer = threading.Thread(target=lambda: started.wait(60) and deadline.cancel())
    timer.start()
    try:
        with pytest.raises(DeadlineExceeded):
            kmseg.segment(image, 256, max_iter=10_000, tol=0.0, seed=0, deadline=Signalling())
    finally:
        timer.join()


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "10", True])
def test_a_bad_deadline_is_refused_naming_it(bad):
    with pytest.raises(kmseg.InvalidParameterError, match="deadline") as caught:
        kmseg.segment(_noisy(8, 8), 2, deadline=bad)
    assert caught.value.param == "deadline"


def test_deadline_object():
    d = Deadline(60)
    assert not d.expired and not d.cancelled and 0 < d.remaining <= 60
    copy = pickle.loads(pickle.dumps(d))  # for worker processes: the same expiry
    assert not copy.expired and abs(copy.remaining - d.remaining) < 1
    d.cancel()
    assert d.expired and d.cancelled and d.remaining == 0
    assert pickle.loads(pickle.dumps(d)).cancelled
    with pytest.raises(DeadlineExceeded):
        d.check()
    assert not Deadline().expired and Deadline().remaining == float("inf")


def test_with_deadline_applies_to_every_kmseg_call_inside():
    d = Deadline()
    d.cancel()
    X = np.random.default_rng(0).normal(size=(200, 2))
    assert kmseg.kmeans(X, 3, seed=0).centers.shape == (3, 2)  # outside: no deadline
    with d, pytest.raises(DeadlineExceeded):
        kmseg.kmeans(X, 3, seed=0)
    assert kmseg.kmeans(X, 3, seed=0).centers.shape == (3, 2)


def test_seeding_a_few_centres_at_a_time_chooses_what_one_call_does(monkeypatch):
    import kmseg.engine._kernels as kernels
    from kmseg.engine import _kmeans

    rng = np.random.default_rng(1)
    X, w = rng.normal(size=(3000, 5)), rng.random(3000)
    monkeypatch.setattr(_kmeans, "_SEED_WORK", 10_000)  # a centre or two per call
    steps = _kmeans.seed_plusplus(X, w, 64, 3, np.random.default_rng(5))
    draws = np.random.default_rng(5)  # the same draws as seed_plusplus makes
    first = draws.choice(3000, size=3, p=w / w.sum())
    uniforms = draws.random((63, 3, 2 + int(np.log(64))))
    whole = np.empty((3, 64, 5))
    kernels.seed_plusplus(X, w, first, uniforms, whole)
    assert np.array_equal(steps, whole)
