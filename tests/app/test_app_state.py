"""Settings from the environment, file names, run_app's command line."""

from __future__ import annotations

import sys

import pytest

import kmseg
from kmseg.app import SCRIPT, build_command
from kmseg.app._state import (
    ENV_MAX_PIXELS,
    ENV_MAX_UPLOAD_MB,
    AppSettings,
    digest,
    download_name,
    format_bytes,
    settings_from_env,
    sync_pair,
)


def test_defaults_follow_the_core_limits() -> None:
    settings, problems = settings_from_env({})
    assert problems == []
    assert settings.max_upload_bytes == kmseg.DEFAULT_LIMITS.max_upload_bytes
    assert settings.max_pixels == kmseg.DEFAULT_LIMITS.max_pixels


def test_limits_from_env() -> None:
    settings, problems = settings_from_env({ENV_MAX_UPLOAD_MB: "0.5", ENV_MAX_PIXELS: "1_000_000"})
    assert problems == []
    assert settings.max_upload_bytes == 512 * 1024
    assert settings.max_upload_mb == 1  # Streamlit's cap, rounded up
    assert settings.max_pixels == 1_000_000
    assert "512 KB" in settings.limits_text() and "1 MP" in settings.limits_text()


@pytest.mark.parametrize("value", ["-1", "0", "lots", "nan", "inf"])
def test_bad_env_values_fall_back_with_a_message(value: str) -> None:
    settings, problems = settings_from_env({ENV_MAX_UPLOAD_MB: value, ENV_MAX_PIXELS: value})
    assert settings == AppSettings()
    assert len(problems) == 2 and all("using the default" in p for p in problems)


def test_format_bytes() -> None:
    assert format_bytes(25 * 1024 * 1024) == "25 MB"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(12) == "12 bytes"


def test_digest_depends_on_content() -> None:
    assert digest(b"abc") == digest(b"abc") != digest(b"abd")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("photo.jpg", "photo-k8.png"), ("my holiday (1).JPEG", "my_holiday_1-k8.png"),
     ("../../etc/passwd", "passwd-k8.png"), ("C:\\x\\y.tif", "y-k8.png"), (".png", "image-k8.png")],
)  # fmt: skip
def test_download_name(name: str, expected: str) -> None:
    assert download_name(name, "k8", "png") == expected


def test_sync_pair_clamps() -> None:
    state = {"typed": 100, "slider": 3}
    sync_pair(state, "typed", "slider", 24)
    assert state["slider"] == 24
    state["slider"] = 5
    sync_pair(state, "slider", "typed")
    assert state["typed"] == 5


def test_build_command() -> None:
    argv, env = build_command("0.0.0.0", 9000, ["--theme.base", "dark"], max_upload_mb=2.5,
                              max_pixels=4_000_000, environ={"PATH": "/bin"})  # fmt: skip
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(SCRIPT)]
    opts = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert opts["--server.address"] == "0.0.0.0"
    assert opts["--server.port"] == "9000"
    assert opts["--server.headless"] == "true"
    assert opts["--browser.gatherUsageStats"] == "false"
    assert opts["--server.maxUploadSize"] == "3"
    assert opts["--theme.base"] == "dark"
    assert env[ENV_MAX_PIXELS] == "4000000" and float(env[ENV_MAX_UPLOAD_MB]) == 2.5
    assert env["PATH"] == "/bin"
    assert SCRIPT.is_file()


@pytest.mark.parametrize(
    "kwargs",
    [{"port": 0}, {"port": 70000}, {"port": "80"}, {"host": ""}, {"max_upload_mb": 0},
     {"max_pixels": -5}, {"max_pixels": 1.5}],
)  # fmt: skip
def test_build_command_rejects(kwargs: dict) -> None:
    with pytest.raises(kmseg.InvalidParameterError):
        build_command(**kwargs)
