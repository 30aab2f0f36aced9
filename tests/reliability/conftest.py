"""Reliability-suite fixtures: PostgreSQL of our own (a schema in the `frontage_rel` database, never the
shared `test` database), and the real footage + COCO model from ../shared for the edge process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relkit import rel_schema, require_postgres


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL schema for one test, in our own `frontage_rel` database."""
    require_postgres()
    with rel_schema() as url:
        yield url


@pytest.fixture(scope="session")
def street_clip(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of the real PETS 2009 campus camera (two vehicles parked top right all along), H.264, GOP 1 s."""
    clip = tmp_path_factory.mktemp("footage") / "campus20.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i",
                    str(shared_dir / "videos" / "pets2009_campus_480x360.avi"), "-t", "20", "-c:v", "libx264",
                    "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=120)
    return clip


@pytest.fixture(scope="session")
def coco_model(shared_dir: Path) -> Path:
    return shared_dir / "models" / "yolov8n-coco-int8.onnx"
