"""What the ONNX engines share for a YOLO export: letterbox into one batch array, decode the raw output,
per-class thresholds, class-aware NMS, boxes back into each frame's pixels.

:class:`YoloExport` holds all of it; an engine subclass only opens the file (giving its metadata and input
shape) and runs one batch array (``_run``). So ONNX Runtime and OpenVINO see the same pixels and apply the
same thresholds, and any difference between them is the runtime's arithmetic alone.

Outputs understood:

* YOLOv8/11 ``[B, 4 + nc, anchors]`` (cx, cy, w, h, class scores) -> per-class thresholds -> class-aware NMS
* YOLO26 / end-to-end ``[B, max_det, 6]`` (x1, y1, x2, y2, score, class) -> thresholds only (no NMS needed)

Must not import torch or ultralytics (the edge image has neither).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from detector.detections import Detections
from detector.inference.config import ModelConfig
from detector.inference.modelfile import file_sha256, metadata_imgsz
from detector.inference.protocol import InferenceError

PAD_VALUE = 114  # grey border, as the YOLO models were trained with


def frame_gain(h: int, w: int, imgsz: int, upscale: bool) -> float:
    """Scale that brings a frame's long side to ``imgsz`` (never above 1 unless ``upscale``).

    >>> frame_gain(720, 1280, 640, False), frame_gain(270, 480, 640, False), frame_gain(270, 480, 640, True)
    (0.5, 1.0, 1.3333333333333333)
    """
    gain = imgsz / max(h, w)
    return gain if upscale else min(1.0, gain)


def letterbox_geometry(h: int, w: int, out_h: int, out_w: int) -> tuple[float, int, int, int, int]:
    """(gain, new_w, new_h, left, top) of a centred letterbox, rounded as ultralytics rounds it.

    >>> letterbox_geometry(720, 1280, 640, 640)
    (0.5, 640, 360, 0, 140)
    """
    gain = min(out_h / h, out_w / w)
    new_w, new_h = round(w * gain), round(h * gain)
    left = round((out_w - new_w) / 2 - 0.1)
    top = round((out_h - new_h) / 2 - 0.1)
    return gain, new_w, new_h, left, top


def canvas_size(sizes: Sequence[tuple[int, int]], imgsz: int, stride: int, rect: bool,
                upscale: bool = True) -> tuple[int, int]:
    """(H, W) of one batch's input for a model that takes any size: every frame's long side becomes ``imgsz``
    (without ``upscale``, a smaller frame keeps its own size).

    With ``rect`` the canvas is the smallest stride multiple that holds every letterboxed frame (what
    ultralytics' predictor does for one frame), otherwise the ``imgsz`` square.

    >>> canvas_size([(720, 1280)], 320, 32, rect=True), canvas_size([(720, 1280), (480, 640)], 320, 32, rect=True)
    ((192, 320), (256, 320))
    >>> canvas_size([(720, 1280)], 320, 32, rect=False)
    (320, 320)
    >>> canvas_size([(270, 480)], 640, 32, rect=True, upscale=False)
    (288, 480)
    """
    if not rect:
        return imgsz, imgsz
    out_h = out_w = stride
    for h, w in sizes:
        gain = frame_gain(h, w, imgsz, upscale)
        out_h = max(out_h, -(-round(h * gain) // stride) * stride)
        out_w = max(out_w, -(-round(w * gain) // stride) * stride)
    return out_h, out_w


def nms_class_aware(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, max_det: int) -> np.ndarray:
    """Greedy NMS per class (OpenCV's batched NMS); returns kept indices, best score first.

    OpenCV's C++ loop replaced a numpy loop of the same rule (suppress IoU > ``iou``): same boxes kept,
    BENCHMARKS.md gives the speed of both.

    >>> b = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    >>> nms_class_aware(b, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), 0.5, 10).tolist()
    [0, 2]
    """
    if not len(boxes):
        return np.zeros((0,), np.int64)
    xywh = boxes.astype(np.float32, copy=True)
    xywh[:, 2:] -= xywh[:, :2]
    # score_threshold -1: thresholds were applied before; top_k would cut the candidates, not the kept boxes
    kept = cv2.dnn.NMSBoxesBatched(xywh, scores.astype(np.float32), classes.astype(np.int32), -1.0, iou)
    return np.asarray(kept, np.int64).reshape(-1)[:max_det]


def nms_class_aware_numpy(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float,
                          max_det: int) -> np.ndarray:
    """The former numpy NMS (class offset trick), kept as the reference the benchmark and test compare with.

    >>> b = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    >>> nms_class_aware_numpy(b, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), 0.5, 10).tolist()
    [0, 2]
    """
    if not len(boxes):
        return np.zeros((0,), np.int64)
    offset = classes.astype(np.float32)[:, None] * (float(boxes.max()) + 1.0)
    b = boxes + offset
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, np.int64)


def _dim(value: object) -> int | None:
    """A static dimension, or None for a dynamic one (ONNX Runtime gives names, OpenVINO -1)."""
    return value if isinstance(value, int) and value > 0 else None


class YoloExport:
    """A YOLO detector exported to ONNX: everything but the runtime call. Subclasses call :meth:`_setup`
    after opening the file and implement :meth:`_run`."""

    backend = "?"

    def _setup(self, cfg: ModelConfig, path: Path, meta: dict[str, str], input_shape: Sequence[object],
               input_dtype: type[np.floating]) -> None:
        self.cfg = cfg
        shape = list(input_shape)
        if len(shape) != 4:
            raise InferenceError(f"cannot load model {path}: input is {shape}, expected [B, 3, H, W]")
        self.fixed_batch = _dim(shape[0])
        fixed_h, fixed_w = _dim(shape[2]), _dim(shape[3])
        # The size the model was trained at, unless the config says otherwise (a dynamic-size export run at
        # the config's old 640 default did 4x the arithmetic of the 320 it was trained for).
        self.imgsz = cfg.imgsz or metadata_imgsz(meta) or max(fixed_h or 0, fixed_w or 0) or 640
        self.stride = int(meta.get("stride", 32)) if str(meta.get("stride", "32")).isdigit() else 32
        self.fixed_hw = (fixed_h, fixed_w) if fixed_h and fixed_w else None
        # fixed-size models letterbox into their own input; dynamic ones into a per-batch canvas
        self.in_h, self.in_w = self.fixed_hw or (self.imgsz, self.imgsz)
        self.input_dtype = input_dtype
        self.end2end = str(meta.get("end2end", "")).lower() == "true"
        if cfg.class_names:
            self.class_names = tuple(cfg.class_names)
        elif "names" in meta:
            names = ast.literal_eval(meta["names"])
            self.class_names = tuple(names[i] for i in sorted(names)) if isinstance(names, dict) else tuple(names)
        else:
            raise InferenceError(f"cannot load model {path}: no `names` metadata; set class_names in the config")
        self.thresholds = cfg.thresholds(self.class_names)
        self.name = path.stem
        # Frontage exports carry their own model version; stock ultralytics exports only the ultralytics version.
        self.version = str(meta.get("frontage_version") or meta.get("version") or meta.get("date") or "unknown")
        self.sha256 = file_sha256(path)
        self.max_batch = self.fixed_batch or cfg.max_batch
        self._buffers: dict[tuple[int, int], np.ndarray] = {}

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """One runtime call: (n, 3, H, W) input -> the model's first output."""
        raise NotImplementedError

    # -- preprocessing -------------------------------------------------------------------------------
    def input_size(self, images: Sequence[np.ndarray]) -> tuple[int, int]:
        """(H, W) this batch is letterboxed into: the model's own, or the smallest canvas that fits all."""
        if self.fixed_hw:
            return self.fixed_hw
        return canvas_size([im.shape[:2] for im in images], self.imgsz, self.stride, self.cfg.rect, self.cfg.upscale)

    def _batch_array(self, n: int, hw: tuple[int, int]) -> np.ndarray:
        buffer = self._buffers.get(hw)
        if buffer is None or len(buffer) < n:  # grow once per canvas size; reused across calls
            buffer = self._buffers[hw] = np.empty((n, 3, *hw), np.float32)
        return buffer[:n]

    def preprocess(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, list[tuple[float, int, int, int, int, int]]]:
        """Letterbox into one (n, 3, H, W) RGB 0-1 array; returns it and (gain, left, top, w, h) per image."""
        in_h, in_w = self.input_size(images)
        batch = self._batch_array(max(len(images), self.fixed_batch or 0), (in_h, in_w))
        batch.fill(PAD_VALUE / 255.0)
        geometry = []
        for i, image in enumerate(images):
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            h, w = image.shape[:2]
            if self.fixed_hw:
                gain, nw, nh, left, top = letterbox_geometry(h, w, in_h, in_w)
            else:  # long side = imgsz (or its own, if smaller and not upscaled), centred in the shared canvas
                gain = frame_gain(h, w, self.imgsz, self.cfg.upscale)
                nw, nh = round(w * gain), round(h * gain)
                left, top = round((in_w - nw) / 2 - 0.1), round((in_h - nh) / 2 - 0.1)
            resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
            # BGR -> RGB, HWC -> CHW, 0-255 -> 0-1, straight into the batch slot
            np.multiply(resized[:, :, ::-1].transpose(2, 0, 1), 1.0 / 255.0,
                        out=batch[i, :, top:top + nh, left:left + nw], casting="unsafe")
            geometry.append((gain, left, top, w, h, i))
        return batch, geometry  # type: ignore[return-value]

    # -- postprocessing ------------------------------------------------------------------------------
    def _scale(self, boxes: np.ndarray, gain: float, left: int, top: int, w: int, h: int) -> np.ndarray:
        boxes = boxes.copy()
        boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - left) / gain).clip(0, w)
        boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - top) / gain).clip(0, h)
        return boxes

    def _decode_one(self, out: np.ndarray, geom: tuple[float, int, int, int, int, int]) -> Detections:
        gain, left, top, w, h, _ = geom
        if self.end2end or (out.ndim == 2 and out.shape[-1] == 6 and out.shape[0] != 6):
            scores = out[:, 4].astype(np.float32)
            cls = out[:, 5].astype(np.int64)
            valid = (cls >= 0) & (cls < len(self.class_names))
            keep = valid & (scores > self.thresholds[cls.clip(0, len(self.class_names) - 1)])
            boxes = out[keep, :4].astype(np.float32)
            scores, cls = scores[keep], cls[keep]
            order = np.argsort(-scores, kind="stable")[: self.cfg.max_det]
            boxes, scores, cls = boxes[order], scores[order], cls[order]
        else:
            nc = out.shape[0] - 4
            if nc != len(self.class_names):
                raise InferenceError(f"model {self.name} outputs {nc} classes but has {len(self.class_names)} names")
            class_scores = out[4:]  # (nc, A)
            cls_all = class_scores.argmax(0)
            conf_all = class_scores[cls_all, np.arange(class_scores.shape[1])]
            keep = conf_all > self.thresholds[cls_all]
            if not keep.any():
                return Detections.empty(self.class_names)
            cxcywh = out[:4, keep].T.astype(np.float32)
            scores = conf_all[keep].astype(np.float32)
            cls = cls_all[keep].astype(np.int64)
            boxes = np.empty_like(cxcywh)
            boxes[:, :2] = cxcywh[:, :2] - cxcywh[:, 2:] / 2
            boxes[:, 2:] = cxcywh[:, :2] + cxcywh[:, 2:] / 2
            kept = nms_class_aware(boxes, scores, cls, self.cfg.iou, self.cfg.max_det)
            boxes, scores, cls = boxes[kept], scores[kept], cls[kept]
        return Detections(
            xyxy=self._scale(boxes, gain, left, top, w, h).astype(np.float32),
            confidence=scores.astype(np.float32),
            class_id=cls.astype(np.int64),
            class_names=self.class_names,
        ).without_cross_class_duplicates(self.cfg.cross_class_iou)

    # -- the call ------------------------------------------------------------------------------------
    def infer(self, images: Sequence[np.ndarray]) -> list[Detections]:
        results: list[Detections] = []
        step = self.fixed_batch or self.cfg.max_batch
        for start in range(0, len(images), step):
            chunk = list(images[start : start + step])
            for image in chunk:
                if image.ndim not in (2, 3) or image.dtype != np.uint8 or (image.ndim == 3 and image.shape[2] != 3):
                    raise InferenceError(f"expected BGR uint8 HxWx3 images, got {image.dtype} {image.shape}")
            batch, geometry = self.preprocess(chunk)  # a fixed batch > 1 is fed whole (padding rows unused)
            out = self._run(batch.astype(self.input_dtype, copy=False))
            results += [self._decode_one(out[g[5]], g) for g in geometry]
        return results
