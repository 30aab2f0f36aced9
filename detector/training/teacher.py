"""The COCO teacher (``../shared/models/yolov8n-coco-int8.onnx``) run with plain ONNX Runtime.

It pseudo-labels real frames for the classes it shares with a frontage-n class list (`teacher_map_for`), at a
high confidence threshold: a missed object only weakens training a little, a wrong label teaches a mistake.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import numpy as np

from detector.training.classes import class_names, teacher_map_for

DEFAULT_CONF = 0.5


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping aspect into a size x size grey canvas. Returns (canvas, scale, (pad_x, pad_y))."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = round(w * scale), round(h * scale)
    canvas = np.full((size, size, 3), 114, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py : py + nh, px : px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, scale, (px, py)


class CocoTeacher:
    """COCO YOLOv8 ONNX -> boxes in frontage-n classes (only the shared ones)."""

    def __init__(self, model_path: Path, conf: float = DEFAULT_CONF, iou: float = 0.5,
                 classes: tuple[str, ...] | None = None) -> None:
        """``classes``: the frontage-n class list the ids refer to (default: the shipped one)."""
        import onnxruntime as ort

        self.model_path = Path(model_path)
        if not Path(model_path).exists():
            raise FileNotFoundError(f"teacher model not found: {model_path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        names = ast.literal_eval(meta["names"])
        self.coco_names = [names[i] for i in sorted(names)]
        self.size = int(self.session.get_inputs()[0].shape[2])
        self.input_name = self.session.get_inputs()[0].name
        self.conf, self.iou = conf, iou
        self.classes = tuple(classes or class_names())
        self.mapping = teacher_map_for(self.classes)
        # COCO id -> frontage-n id (-1: not shared)
        self.to_frontage = np.array([self.classes.index(self.mapping[n]) if n in self.mapping else -1
                                     for n in self.coco_names])

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One BGR frame -> (frontage class ids (N,), pixel xyxy (N, 4), confidence (N,))."""
        canvas, scale, (px, py) = letterbox(image_bgr, self.size)
        blob = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})[0][0]  # (84, 8400)
        scores = out[4:]
        coco_cls = scores.argmax(0)
        conf = scores[coco_cls, np.arange(scores.shape[1])]
        mapped = self.to_frontage[coco_cls]
        keep = (conf >= self.conf) & (mapped >= 0)
        if not keep.any():
            return np.zeros((0,), np.int64), np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        cx, cy, w, h = out[0, keep], out[1, keep], out[2, keep], out[3, keep]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - px) / scale
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - py) / scale
        ih, iw = image_bgr.shape[:2]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, iw)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, ih)
        cls, conf = mapped[keep], conf[keep]
        # class-wise NMS (offset trick: boxes of different classes never overlap)
        offset = cls[:, None] * 10000.0
        xywh = np.concatenate([boxes[:, :2] + offset, boxes[:, 2:] - boxes[:, :2]], axis=1)
        idx = cv2.dnn.NMSBoxes(xywh.tolist(), conf.tolist(), self.conf, self.iou)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return cls[idx].astype(np.int64), boxes[idx].astype(np.float32), conf[idx].astype(np.float32)
