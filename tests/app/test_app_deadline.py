"""The web app stops a clustering past its own time limit (KMSEG_APP_TIME_LIMIT), with a message."""

from __future__ import annotations

import io

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

import kmseg
from kmseg.app import SCRIPT
from kmseg.app._compute import DEFAULT_TIME_LIMIT, ENV_TIME_LIMIT, segment_in_time, time_limit


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)


@pytest.mark.parametrize("raw, seconds", [("30", 30.0), ("0.5", 0.5), ("0", DEFAULT_TIME_LIMIT),
                                          ("-3", DEFAULT_TIME_LIMIT), ("soon", DEFAULT_TIME_LIMIT),
                                          ("inf", DEFAULT_TIME_LIMIT), ("", DEFAULT_TIME_LIMIT)])
def test_time_limit_is_read_from_the_environment(raw, seconds):
    assert time_limit({ENV_TIME_LIMIT: raw}) == seconds
    assert time_limit({}) == DEFAULT_TIME_LIMIT


def test_a_run_past_the_apps_limit_is_stopped_with_a_message_naming_the_limit():
    with pytest.raises(kmseg.DeadlineExceeded, match=f"limit of 0.001 s .*{ENV_TIME_LIMIT}"):
        segment_in_time(_image(), 256, environ={ENV_TIME_LIMIT: "0.001"}, max_iter=10_000, seed=0)
    seg = segment_in_time(_image(), 4, environ={ENV_TIME_LIMIT: "60"}, seed=0)
    assert seg.k == 4


def test_the_page_shows_the_stopped_run_as_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_TIME_LIMIT, "0.001")
    st.cache_data.clear()  # a cached example result would not run at all
    try:
        at = AppTest.from_file(str(SCRIPT), default_timeout=60)
        at.run()
        assert not at.exception, at.exception
        assert len(at.error) == 1 and ENV_TIME_LIMIT in at.error[0].value, [e.value for e in at.error]
    finally:
        st.cache_data.clear()


def test_an_animation_in_the_app_is_stopped_at_the_same_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from kmseg.app import _cache

    frames = [Image.fromarray(np.roll(_image(), 9 * i, axis=1)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    monkeypatch.setenv(ENV_TIME_LIMIT, "0.001")
    st.cache_data.clear()
    try:
        with pytest.raises(kmseg.DeadlineExceeded, match=ENV_TIME_LIMIT):
            _cache.segment_animation("anim", 64, 10_000, "rgb", 0, 50_000_000, buf.getvalue())
    finally:
        st.cache_data.clear()
