"""``backend: auto`` on the shipped model with the real engines: it times them, picks one that works and
agrees, keeps the table, and falls back when an engine fails to load — from a fresh measurement and from a
cached choice. The failing engines are registry entries made here (a load that raises, a "runtime" whose
boxes are off): the only stand-ins, since no real runtime can be made to fail to load on demand.

Frames are the committed sample clips' (no ../shared needed); the timing rounds are the module's own
(there are no timed assertions: which engine wins is the machine's business).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from detector.detections import Detections
from detector.inference import (
    AutoOptions,
    BackendPlugin,
    InferenceError,
    ModelConfig,
    OnnxRuntimeOptions,
    load_backend,
    register_backend,
)
from detector.inference.autoselect import format_table, print_benchmark, select_backend
from detector.inference.registry import get_plugin, unregister_backend
from detector.sources import open_source

ROOT = Path(__file__).resolve().parents[2]
ONNX = ROOT / "models" / "frontage-n.onnx"
CLIP = ROOT / "sample_videos" / "market-street-day.mp4"

pytestmark = pytest.mark.skipif(not (ONNX.exists() and CLIP.exists()), reason="shipped model or sample clip missing")


class ExplodingOptions(BaseModel):
    type: Literal["exploding"] = "exploding"
    hint: str = "auto"


class OffsetOptions(BaseModel):
    type: Literal["offset"] = "offset"


def _explode(cfg: ModelConfig) -> object:
    raise InferenceError(f"cannot load model {cfg.path}: the exploding runtime never loads")


class _Offset:
    """ONNX Runtime with every box moved 40 px right: a runtime that runs, fast, and is wrong."""

    def __init__(self, cfg: ModelConfig) -> None:
        self.inner = get_plugin("onnxruntime").load(cfg.with_backend(OnnxRuntimeOptions()))
        for attr in ("name", "version", "sha256", "class_names", "max_batch", "imgsz"):
            setattr(self, attr, getattr(self.inner, attr))
        self.backend = "offset"

    def input_size(self, images: list[np.ndarray]) -> tuple[int, int]:
        return self.inner.input_size(images)

    def infer(self, images: list[np.ndarray]) -> list[Detections]:
        out = []
        for d in self.inner.infer(images):
            out.append(Detections(xyxy=d.xyxy + np.array([40, 0, 40, 0], np.float32), confidence=d.confidence,
                                  class_id=d.class_id, class_names=d.class_names))
        return out


@pytest.fixture
def fake_engines() -> Iterator[None]:
    register_backend(BackendPlugin("exploding", ExplodingOptions, _explode, (".onnx",),
                                   variants=lambda cfg: [ExplodingOptions()]))
    register_backend(BackendPlugin("offset", OffsetOptions, _Offset, (".onnx",), variants=lambda cfg: [OffsetOptions()]))
    yield
    unregister_backend("exploding")
    unregister_backend("offset")


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    src = open_source(str(CLIP), "cam", analysis_fps=0.1)
    out = [f.image for f in list(src.frames())[:3]]
    src.close()
    return out


def auto(tmp_path: Path, **options: object) -> ModelConfig:
    return ModelConfig(path=str(ONNX), backend={"type": "auto", "cache_file": str(tmp_path / "engines.json"), **options})


def test_auto_times_the_real_engines_and_keeps_the_table(tmp_path: Path, frames: list[np.ndarray]) -> None:
    selection = select_backend(auto(tmp_path), frames)
    assert not selection.cached
    engines = [r.engine for r in selection.table]
    assert engines[0] == "onnxruntime"  # the reference
    pytest.importorskip("openvino", reason="a second engine to choose from is the `openvino` extra")
    assert "openvino/f32" in engines
    for row in selection.table:
        assert row.error is None, row  # on the shipped model every real engine loads and agrees
        assert row.ms_per_frame and row.cpu_ms_per_frame and row.agreement is not None and row.agreement >= 0.9
    chosen = [r for r in selection.table if r.chosen]
    assert len(chosen) == 1 and chosen[0].engine == selection.choice
    assert chosen[0].cpu_ms_per_frame == min(r.cpu_ms_per_frame for r in selection.table)  # type: ignore[type-var]
    assert selection.backend.backend == selection.choice.split("/")[0]
    assert len(selection.backend.infer(frames)) == len(frames)
    assert "**chosen**" in format_table(selection.table)
    # the next start reads the choice instead of timing again
    cache = json.loads((tmp_path / "engines.json").read_text())
    (entry,) = cache.values()
    assert entry["choice"] == selection.choice and len(entry["table"]) == len(engines)
    again = select_backend(auto(tmp_path), frames)
    assert again.cached and again.choice == selection.choice and again.backend.backend == selection.backend.backend


def test_an_engine_that_fails_to_load_is_skipped(tmp_path: Path, frames: list[np.ndarray], fake_engines: None) -> None:
    # the exploding engine first: it would be the reference; the next engine that loads takes its place
    cfg = auto(tmp_path, candidates=["exploding", "onnxruntime", "offset"])
    selection = select_backend(cfg, frames)
    rows = {r.engine: r for r in selection.table}
    assert rows["exploding"].error and "never loads" in rows["exploding"].error
    assert rows["onnxruntime"].agreement == 1.0 and rows["onnxruntime"].error is None
    # a runtime that runs but moves the boxes is never chosen, however fast it is
    assert rows["offset"].agreement is not None and rows["offset"].agreement < 0.5
    assert rows["offset"].error == "disagrees with onnxruntime"
    # the choice is ONNX Runtime at one of the thread counts it was timed at (on several cores: default and 1)
    assert selection.choice.startswith("onnxruntime") and selection.backend.backend == "onnxruntime"
    # load_backend goes the same way (from the cache now)
    assert load_backend(cfg).backend == "onnxruntime"


def test_a_cached_choice_that_no_longer_loads_falls_back(tmp_path: Path, frames: list[np.ndarray],
                                                          fake_engines: None) -> None:
    cfg = auto(tmp_path, candidates=["onnxruntime", "exploding"])
    first = select_backend(cfg, frames)
    assert first.choice.startswith("onnxruntime")
    # the cache now says the exploding engine won (as if it had loaded on an earlier start)
    path = tmp_path / "engines.json"
    cache = json.loads(path.read_text())
    (entry,) = cache.values()
    entry["choice"] = "exploding"
    for row in entry["table"]:
        row["chosen"] = row["engine"] == "exploding"
        if row["engine"] == "exploding":
            row.update(error=None, ms_per_frame=1.0, cpu_ms_per_frame=1.0, agreement=1.0)
    path.write_text(json.dumps(cache))
    again = select_backend(cfg, frames)
    assert again.cached and again.choice.startswith("onnxruntime") and again.backend.backend == "onnxruntime"


def test_without_measuring_the_first_engine_that_loads(tmp_path: Path, fake_engines: None) -> None:
    backend = load_backend(auto(tmp_path, measure=False, candidates=["exploding", "onnxruntime"]))
    assert backend.backend == "onnxruntime"
    assert not (tmp_path / "engines.json").exists()  # nothing timed, nothing kept
    with pytest.raises(InferenceError, match="no engine loads it") as info:
        load_backend(auto(tmp_path, measure=False, candidates=["exploding"]))
    assert "\n" not in str(info.value)


def test_no_engine_that_works(tmp_path: Path, frames: list[np.ndarray], fake_engines: None) -> None:
    register_backend(BackendPlugin("exploding", ExplodingOptions, _explode, (".onnx",),
                                   variants=lambda cfg: [ExplodingOptions(hint="f32"), ExplodingOptions(hint="bf16")]))
    with pytest.raises(InferenceError, match="no engine runs it") as info:
        select_backend(auto(tmp_path, candidates=["exploding"]), frames)
    assert "exploding/f32: failed" in str(info.value) and "\n" not in str(info.value)


def test_a_corrupt_cache_is_measured_again(tmp_path: Path, frames: list[np.ndarray]) -> None:
    (tmp_path / "engines.json").write_text("{not json")
    selection = select_backend(auto(tmp_path, candidates=["onnxruntime", "openvino"]), frames)
    assert not selection.cached and selection.backend.infer(frames[:1])
    cache = json.loads((tmp_path / "engines.json").read_text())  # rewritten whole
    # an entry whose rows are not this version's rows (hand-edited, another version): measured again too
    (entry,) = cache.values()
    entry["table"] = ["onnxruntime", {"engine": "onnxruntime"}]
    (tmp_path / "engines.json").write_text(json.dumps(cache))
    again = select_backend(auto(tmp_path, candidates=["onnxruntime", "openvino"]), frames)
    assert not again.cached and again.table[0].ms_per_frame is not None


def test_benchmark_prints_the_table(tmp_path: Path, frames: list[np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    print_benchmark(auto(tmp_path, measure=False), frames)  # --benchmark measures whatever the config says
    out = capsys.readouterr().out
    assert "| engine | ms/frame |" in out and "| onnxruntime |" in out and "chosen:" in out


def test_backend_options_are_typed() -> None:
    assert ModelConfig(path="m.onnx").backend == AutoOptions()
    assert ModelConfig(path="m.onnx", backend="onnxruntime", threads=2).backend == OnnxRuntimeOptions(threads=2)
    assert ModelConfig(path="m.onnx", backend={"type": "openvino", "hint": "bf16"}).backend.hint == "bf16"  # type: ignore[union-attr]
    for bad in ("tensorflow", {"type": "openvino", "hint": "int4"}, {"type": "onnxruntime", "hint": "bf16"}):
        with pytest.raises(ValidationError):
            ModelConfig(path="m.onnx", backend=bad)
    for name, field in ModelConfig.model_fields.items():
        assert field.title and field.description, name
    for options in (AutoOptions, OnnxRuntimeOptions):
        for name, field in options.model_fields.items():
            assert field.title and field.description, (options, name)


def test_frontage_edge_benchmark_prints_the_table(tmp_path: Path) -> None:
    """The real command, in its own process: the table on stdout, the choice kept in FRONTAGE_DATA_DIR."""
    import os
    import subprocess
    import sys

    config = tmp_path / "edge.yaml"
    config.write_text(f"service_url: http://127.0.0.1:9\ndevice_id: bench-box\nmodel: {{path: {ONNX}}}\n"
                      f"cameras: [{{id: cam-01, url: {CLIP}, zones: {CLIP.with_suffix('.zones.yaml')}}}]\n")
    env = {**os.environ, "FRONTAGE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "detector", "edge", "--config", str(config), "--benchmark"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| engine | ms/frame |" in proc.stdout and "| onnxruntime |" in proc.stdout and "chosen:" in proc.stdout
    assert (tmp_path / "data" / "engines.json").exists()


def test_auto_times_one_thread_beside_the_default_on_several_cores() -> None:
    """On a CPU of several cores each engine is timed at its default thread count and at one thread (cheaper per
    frame: no parallel overhead); a configured thread count is the only one timed."""
    import os

    from detector.inference.autoselect import candidates, label

    default = [label(o) for _, o in candidates(ModelConfig(path=str(ONNX)))]
    if len(os.sched_getaffinity(0)) > 1:
        assert default[:2] == ["onnxruntime", "onnxruntime/1 thread"], default
    fixed = [label(o) for _, o in candidates(ModelConfig(path=str(ONNX), backend={"type": "auto", "threads": 2}))]
    assert fixed[0] == "onnxruntime/2 threads" and all(lbl.endswith("/2 threads") for lbl in fixed), fixed


def test_auto_times_bf16_only_when_reduced_precision_is_allowed() -> None:
    """bf16 passed the box agreement yet opened a false episode on a real clip that f32 does not: opt-in only."""
    from detector.inference.autoselect import candidates, label
    from detector.inference.openvino import cpu_precisions

    model = str(ONNX)
    default = [label(o) for _, o in candidates(ModelConfig(path=model))]
    assert not any(lbl.endswith("/bf16") for lbl in default), default
    allowed = [label(o) for _, o in candidates(ModelConfig(path=model, backend={"type": "auto",
                                                                               "reduced_precision": True}))]
    if "bf16" in cpu_precisions():
        assert "openvino/bf16" in allowed, allowed
