"""Shared fixtures: paths, ../shared material, and the two databases every case-service test runs on."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FRONTAGE_SHARED", ROOT.parent / "shared"))
SAMPLE_VIDEOS = ROOT / "sample_videos"
MODELS = ROOT / "models"
POSTGRES_URL = os.environ.get("FRONTAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "var" / "ultralytics"))
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / "var" / "matplotlib"))
# backend: auto keeps its engine table in the data directory: inside the checkout, never the user's ~/.cache.
os.environ.setdefault("FRONTAGE_DATA_DIR", str(ROOT / "var" / "test" / "data"))


def _require(flag: str) -> bool:
    return os.environ.get(flag, "") not in ("", "0", "false", "False")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; absent on a user's fresh clone (skip), required in CI (fail)."""
    if not (SHARED / "README.md").exists():
        if _require("FRONTAGE_REQUIRE_SHARED"):
            pytest.fail(f"FRONTAGE_REQUIRE_SHARED is set but {SHARED} is missing")
        pytest.skip(f"../shared is absent ({SHARED}): real footage, photos and the COCO teacher live there")
    return SHARED


def postgres_reachable(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_kind(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both databases. PostgreSQL missing: skip locally, fail in CI."""
    if request.param == "postgresql" and not postgres_reachable():
        if _require("FRONTAGE_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable and FRONTAGE_REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    return request.param


@pytest.fixture()
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test leaves screenshots and reports for a human to look at (test-artifacts/<test>/)."""
    path = ROOT / "test-artifacts" / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path
