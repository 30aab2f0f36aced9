"""Ultralytics backend: ``YOLO(path, task="detect")`` for .pt, .onnx and OpenVINO models (needs the train extra).

Batches the whole list in one ``predict`` call (fp16 and large batches on GPU); per-class thresholds are
applied after the model's own (lowest) threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.detections import Detections
from detector.inference.config import ModelConfig, UltralyticsOptions
from detector.inference.modelfile import file_sha256, metadata_imgsz
from detector.inference.protocol import InferenceError, first_line
from detector.inference.yolo import canvas_size


class UltralyticsBackend:
    """``ultralytics.YOLO``: torch for .pt (the training stack), or its own loaders for exports."""

    backend = "ultralytics"

    def __init__(self, cfg: ModelConfig) -> None:
        try:
            from ultralytics import YOLO
        except ImportError:
            raise InferenceError(
                "the ultralytics backend needs the `train` extra (pip install 'frontage[train]')"
            ) from None
        self.cfg = cfg
        path = Path(cfg.path)
        try:
            self.model = YOLO(str(path), task="detect")
        except Exception as exc:
            raise InferenceError(f"cannot load model {path}: {first_line(exc)}") from None
        names = self.model.names
        model_names = tuple(names[i] for i in sorted(names)) if isinstance(names, dict) else tuple(names)
        self.class_names = tuple(cfg.class_names) if cfg.class_names else model_names
        self.thresholds = cfg.thresholds(self.class_names)
        self.min_conf = float(min([cfg.conf, *cfg.class_conf.values()]))
        self.name = path.stem
        ckpt = getattr(self.model, "ckpt", None) or {}
        meta = _model_metadata(path)
        self.version = str(ckpt.get("frontage_version") or ckpt.get("version") or meta.get("frontage_version") or meta.get("version") or "unknown")
        self.sha256 = file_sha256(path)
        # Static-shape exports (ONNX/OpenVINO with batch 1) cannot take a list in one run.
        self.static_batch = path.suffix.lower() == ".onnx" or path.is_dir()
        self.max_batch = cfg.max_batch
        options = cfg.backend if isinstance(cfg.backend, UltralyticsOptions) else UltralyticsOptions()
        self.half = options.half and cfg.device.startswith("cuda")
        # the size the model was trained at unless the config says otherwise (ultralytics' own default is 640)
        train_args = ckpt.get("train_args") or {}
        overrides = getattr(self.model, "overrides", None) or {}
        # a shipped .pt carries the size it runs at (`detector.training.export`), which may differ from its training size
        trained = (ckpt.get("frontage_imgsz") or train_args.get("imgsz") or overrides.get("imgsz")
                   or metadata_imgsz(meta))
        if isinstance(trained, (list, tuple)):
            trained = max(trained)
        self.imgsz = cfg.imgsz or (trained if isinstance(trained, int) else None) or 640

    def input_size(self, images: Sequence[np.ndarray]) -> tuple[int, int]:
        """(H, W) ultralytics' letterbox gives these frames (rectangular, stride 32, long side ``imgsz``)."""
        return canvas_size([im.shape[:2] for im in images], self.imgsz, 32, rect=not self.static_batch,
                           upscale=self.cfg.upscale)

    def _predict(self, images: list[np.ndarray]) -> list[Detections]:
        imgsz = self.imgsz
        if not self.cfg.upscale:  # frames smaller than the input size run at their own (stride-rounded) size
            imgsz = min(imgsz, -(-max(max(im.shape[:2]) for im in images) // 32) * 32)
        results = self.model.predict(
            images, imgsz=imgsz, conf=self.min_conf, iou=self.cfg.iou, max_det=self.cfg.max_det,
            device=self.cfg.device, verbose=False, **({"half": True} if self.half else {}),
        )
        out = []
        for r in results:
            d = Detections.from_ultralytics(r)
            d = Detections(xyxy=d.xyxy, confidence=d.confidence, class_id=d.class_id, class_names=self.class_names)
            d = d[d.confidence >= self.thresholds[d.class_id]] if len(d) else d
            out.append(d.without_cross_class_duplicates(self.cfg.cross_class_iou))
        return out

    def infer(self, images: Sequence[np.ndarray]) -> list[Detections]:
        images = list(images)
        if not images:
            return []
        step = 1 if self.static_batch else self.max_batch
        results: list[Detections] = []
        for start in range(0, len(images), step):
            results += self._predict(images[start : start + step])
        return results


def _model_metadata(path: Path) -> dict[str, str]:
    """An export's metadata, values as strings: ONNX custom metadata, or an OpenVINO folder's metadata.yaml
    (YOLO() exposes them only after the first predict); {} otherwise."""
    try:
        if path.is_dir() and (path / "metadata.yaml").exists():
            import yaml

            data = yaml.safe_load((path / "metadata.yaml").read_text()) or {}
            return {str(k): v if isinstance(v, str) else repr(v) for k, v in data.items()}
        if path.suffix.lower() != ".onnx":
            return {}
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        meta = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).get_modelmeta()
        return dict(meta.custom_metadata_map)
    except Exception:  # metadata is informative only
        return {}
