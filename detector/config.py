"""``edge.yaml``: everything one edge box needs (service, model, cameras, outbox, evidence, metrics).

Relative paths in the file (model, zones, outbox, evidence) are taken relative to the file's own folder.
The device key may be given inline (``device_key``) or, better, through the environment variable named by
``device_key_env`` (default ``FRONTAGE_DEVICE_KEY``). Every problem is a `ConfigError` with one line
naming the file and the field; an unknown key is an error naming it (a renamed one says its new name). See
``examples/edge.yaml``.

Each subsystem's settings appear once, under one name, as that subsystem's own typed config: ``model``
(`detector.inference.ModelConfig`), ``batch`` (`detector.batching.BatchConfig`), ``gating``
(`detector.gating.MotionGateConfig`), ``tracking`` (`detector.tracking.TrackingConfig`), ``uplink``
(`detector.uplink.config.UplinkConfig`), ``cameras`` (`CameraConfig`: source and decode settings).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detector.batching.config import BatchConfig
from detector.gating import MotionGateConfig
from detector.health.config import HealthConfig
from detector.inference import ModelConfig
from detector.sources import AdaptiveIntervalConfig, DecodeOptions
from detector.tracking import TrackingConfig
from detector.uplink.config import UplinkConfig
from detector.yamlfile import read_yaml


class ConfigError(ValueError):
    """An edge.yaml that cannot be used (one line: file, field, fault)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class CameraConfig(_Strict):
    id: Annotated[str, Field(title="Camera id", description="Unique id; events and the case service use it",
                             pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
    url: Annotated[str, Field(title="URL", description="rtsp://... stream, or a video file path")]
    zones: Annotated[Path, Field(title="Zones file", description="zones/<camera>.yaml for this camera")]
    analysis_fps: Annotated[float, Field(title="Analysis rate", description="Frames analysed per second", gt=0, le=30)] = 1.0
    enabled: Annotated[bool, Field(title="Enabled", description="False: configured but not run")] = True
    realtime: Annotated[bool | None, Field(
        title="Real time", description="Files: True plays them at media speed like a camera; False (default) "
        "analyses every analysis frame as fast as possible. Streams are real time unless set False (then read "
        "like a file, every analysis frame, without the live thread)")] = None
    loop: Annotated[bool, Field(title="Loop", description="Files: start again at the end (never with --exit-when-done)")] = False
    keyframes: Annotated[Literal["auto", "keyframes", "all"], Field(
        title="Keyframe-only decode", description="auto: decode only keyframes when the keyframe interval is no "
        "longer than the analysis interval (most of the decode CPU saved); keyframes: always; all: decode every "
        "frame and keep the one nearest each analysis time")] = "auto"
    analysis_width: Annotated[int | None, Field(
        title="Analysis width", description="Scale wider pictures down to this width (aspect kept) while converting "
        "them; the model, motion gate and evidence JPEGs see this picture. Below the model's input size the model "
        "runs at this width too (model.upscale off): a per-camera input size. None: as decoded", ge=160, le=7680)] = None
    decoder_threads: Annotated[int | None, Field(
        title="Decoder threads", description="Threads of this camera's decoder (0: ffmpeg decides). None: 1 for "
        "live cameras (many decoders share the cores), ffmpeg's choice for files read as fast as possible",
        ge=0, le=64)] = None
    skip_loop_filter: Annotated[bool, Field(
        title="Skip loop filter", description="Decode without H.264/HEVC deblocking: up to 8 % less CPU per "
        "keyframe (the sample clips; none measurable on the 720p bench street), but 3-7 % of the shipped model's boxes move or change score on such pictures (agreement 0.93-0.97 on the "
        "sample clips), so off by default (BENCHMARKS.md, Decode)")] = False
    adaptive_interval: Annotated[AdaptiveIntervalConfig, Field(
        title="Adaptive interval", description="Analyse this camera less often while its picture is unchanged; "
        "with keyframe-only decode the keyframes not needed then are not decoded "
        "(detector/sources/cadence.py)")] = AdaptiveIntervalConfig()

    def decode_options(self) -> DecodeOptions:
        return DecodeOptions(keyframes=self.keyframes, width=self.analysis_width, threads=self.decoder_threads,
                             skip_loop_filter=self.skip_loop_filter)


class PipelineConfig(_Strict):
    """Everything from the cameras to the rules: what `detector.pipeline.build` turns into a running pipeline.

    ``frontage analyze`` builds one of these (one file camera); ``frontage edge`` reads an `EdgeConfig`, which
    is this plus the box's service, outbox and metrics settings.
    """

    model: Annotated[ModelConfig, Field(title="Model", description="Model file and inference settings")]
    classes: Annotated[Path | None, Field(title="Class map", description="Default: <model stem>.classes.yaml beside the model")] = None
    batch: Annotated[BatchConfig, Field(title="Batching", description="How frames of all cameras are batched")] = BatchConfig()
    gating: Annotated[MotionGateConfig, Field(title="Motion gating", description="When a frame needs the model: "
                                              "still frames re-use the camera's last detections")] = MotionGateConfig()
    tracking: Annotated[TrackingConfig, Field(title="Tracking", description="ByteTrack per camera, stepping at the "
                                              "camera's analysis_fps; its ids reach the rules")] = TrackingConfig()
    cameras: Annotated[list[CameraConfig], Field(title="Cameras", description="The cameras this box watches", min_length=1)]
    evidence_dir: Annotated[Path | None, Field(title="Evidence folder", description="Where evidence JPEGs and "
                                               "clips are kept (none: no evidence)")] = Path("var/edge/evidence")
    clip_s: Annotated[float, Field(title="Clip length", description="Seconds of clip before a start (0: no clip)", ge=0, le=60)] = 8.0
    start_time: Annotated[datetime | None, Field(title="Start time", description="File sources: wall time of their first frame (UTC if no zone)")] = None
    update_every_s: Annotated[float | None, Field(title="Update interval", description="violation_updated at most this often while active (none: never)", gt=0)] = None

    @model_validator(mode="after")
    def _unique_cameras(self) -> PipelineConfig:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera id {dupes[0]!r}")
        return self


class EdgeConfig(PipelineConfig):
    """``edge.yaml``: the pipeline plus this box's identity, service, outbox, uplink and metrics."""

    service_url: Annotated[str, Field(title="Service URL", description="Case service base URL, e.g. http://cases:8000",
                                      pattern=r"^https?://")]
    device_id: Annotated[str, Field(title="Device id", description="This box's id, sent with each event",
                                    min_length=1, max_length=100)]
    device_key: Annotated[str | None, Field(title="Device key", description="API key (prefer device_key_env)")] = None
    device_key_env: Annotated[str, Field(title="Device key variable", description="Environment variable holding the key")] = "FRONTAGE_DEVICE_KEY"
    outbox: Annotated[Path, Field(title="Outbox", description="SQLite file of the durable event outbox")] = Path("var/edge/outbox.db")
    uplink: Annotated[UplinkConfig, Field(title="Uplink", description="Delivery of events to the case service")] = UplinkConfig()
    health: Annotated[HealthConfig, Field(title="Camera health", description="Health reports and clean pictures "
                                          "of each camera sent to the case service")] = HealthConfig()
    metrics_port: Annotated[int | None, Field(title="Metrics port", description="Prometheus /metrics port (none: off)", ge=1, le=65535)] = None
    metrics_host: Annotated[str, Field(title="Metrics address", description="Address the /metrics server binds: "
                                       "127.0.0.1 (default) keeps it on the box; 0.0.0.0 or one interface's address "
                                       "lets a Prometheus elsewhere scrape it", min_length=1, max_length=253)] = "127.0.0.1"
    model_check_s: Annotated[float, Field(title="Model check", description="How often to check the model file for changes (s)", gt=0)] = 10.0

    def key(self) -> str | None:
        return self.device_key or os.environ.get(self.device_key_env) or None


# Keys an older edge.yaml may still carry -> the one name each setting has now.
RENAMED_KEYS = {"gating.threshold": "gating.changed_fraction", "tracking.frame_rate": "cameras[].analysis_fps"}


def describe_validation_error(err: ValidationError) -> str:
    """One line: ``field.path: message; ...`` (unknown keys named as such)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            renamed = RENAMED_KEYS.get(loc)
            msg = f"unknown key (now {renamed})" if renamed else "unknown key"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _resolve(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else Path(os.path.normpath(base / p))


def load_edge_config(path: str | Path) -> EdgeConfig:
    """Read and validate edge.yaml; relative paths become relative to its folder."""
    path = Path(path)
    data = read_yaml(path, ConfigError, "config file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (service_url, device_id, model, cameras, ...)")
    try:
        cfg = EdgeConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{path}: {describe_validation_error(err)}") from None
    base = path.resolve().parent
    model = cfg.model.model_copy(update={"path": str(_resolve(base, Path(cfg.model.path)))})
    cameras = []
    for cam in cfg.cameras:
        url = cam.url
        if "://" not in url:
            url = str(_resolve(base, Path(url)))
        cameras.append(cam.model_copy(update={"zones": _resolve(base, cam.zones), "url": url}))
    return cfg.model_copy(update={
        "model": model, "cameras": cameras, "outbox": _resolve(base, cfg.outbox),
        "evidence_dir": None if cfg.evidence_dir is None else _resolve(base, cfg.evidence_dir),
        "classes": None if cfg.classes is None else _resolve(base, cfg.classes),
    })
