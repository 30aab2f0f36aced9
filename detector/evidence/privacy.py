"""Which boxes of a frame the service must blur before anyone outside the staff console sees it: people
(their heads) and vehicles (their plates), never the episode's own violation objects.

>>> import numpy as np
>>> from detector.detections import Detections
>>> d = Detections(xyxy=np.array([[10, 10, 30, 90], [50, 60, 90, 90], [0, 0, 5, 5]], np.float32),
...                confidence=np.array([0.9, 0.8, 0.7], np.float32), class_id=np.array([0, 1, 2]),
...                class_names=("person", "car", "trash_bag"))
>>> [(b.kind, b.box) for b in privacy_boxes(d, own_xyxy=d.xyxy[2:], frame_size=(100, 100))]
[('person', [0.1, 0.1, 0.3, 0.9]), ('vehicle', [0.5, 0.6, 0.9, 0.9])]
"""

from __future__ import annotations

import numpy as np

from detector.detections import Detections
from detector.events import PrivacyBox

#: Model class names read as people and as vehicles that carry a number plate (COCO and frontage-n names).
PERSON_CLASSES = frozenset({"person", "pedestrian", "rider"})
VEHICLE_CLASSES = frozenset({"car", "truck", "bus", "van", "motorcycle", "motorbike", "e_bike"})


def privacy_boxes(detections: Detections, own_xyxy: np.ndarray, frame_size: tuple[int, int],
                  limit: int = 200) -> list[PrivacyBox]:
    """People and plated vehicles among ``detections``, less the episode's own boxes ``own_xyxy``."""
    if not len(detections):
        return []
    w, h = frame_size
    scale = np.array([w, h, w, h], np.float32)
    own = np.asarray(own_xyxy, np.float32).reshape(-1, 4)
    out: list[PrivacyBox] = []
    for name, box in zip(detections.names, detections.xyxy, strict=True):
        kind = "person" if name in PERSON_CLASSES else "vehicle" if name in VEHICLE_CLASSES else None
        if kind is None or (len(own) and np.any(np.all(np.abs(own - box) < 0.5, axis=1))):
            continue  # not a person/vehicle, or the violation object itself (a parked e-bike)
        out.append(PrivacyBox(kind=kind, box=[round(float(v), 4) for v in np.clip(box / scale, 0, 1)]))
        if len(out) >= limit:
            break
    return out
