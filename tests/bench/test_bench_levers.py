"""The streams benchmark's levers are edge.yaml switches that exist: each lever's keys name real EdgeConfig
fields, and the all-on and each-off configs validate (a renamed switch fails here, not an hour into a run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import streams  # noqa: E402
from bench.common import apply_overrides, parse_set  # noqa: E402


def test_every_lever_names_edge_config_fields() -> None:
    available, missing = streams.available_levers()
    assert not missing, f"levers whose switches this checkout lacks: {missing}"
    assert [lever.name for lever in available] == [lever.name for lever in streams.LEVERS]
    assert not streams.config_has("gating.no_such_switch")


@pytest.mark.parametrize("off", [None, *[lever.name for lever in streams.LEVERS]])
def test_all_on_and_each_off_configs_validate(off: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detector.config import load_edge_config

    monkeypatch.setattr(streams, "WORK", tmp_path)
    overrides = streams.all_on(list(streams.LEVERS))
    if off is not None:
        overrides.update(next(lv for lv in streams.LEVERS if lv.name == off).off)
    path = streams.write_config(2, ["clip.mp4"], ROOT / "models" / "frontage-n.onnx", 640, "t", overrides)
    cfg = load_edge_config(path).model_dump()
    for key, value in overrides.items():  # each override reached the config (cameras[]: every camera)
        scopes = cfg["cameras"] if key.startswith("cameras[].") else [cfg]
        for scope in scopes:
            for part in key.removeprefix("cameras[].").split("."):
                scope = scope[part]
            assert scope == value, key


def test_overrides_parse_and_apply() -> None:
    overrides = parse_set(["gating.mode=static", "cameras[].analysis_width=640", "batch.zone_crop.enabled=false"])
    assert overrides == {"gating.mode": "static", "cameras[].analysis_width": 640, "batch.zone_crop.enabled": False}
    cfg = apply_overrides({"cameras": [{"id": "a"}, {"id": "b"}]}, overrides)
    assert cfg == {"cameras": [{"id": "a", "analysis_width": 640}, {"id": "b", "analysis_width": 640}],
                   "gating": {"mode": "static"}, "batch": {"zone_crop": {"enabled": False}}}
