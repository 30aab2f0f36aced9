"""Ridden vehicles are traffic, not parking: drop bicycles and e-bikes that carry a person.

A cyclist who rides through a pavement zone, stops at a crossing or circles a small square is a bicycle
in the zone for as long as they are there; the stationarity check in :mod:`detector.rules.episodes` catches
most of them, but a rider who waits, or one who keeps passing the same spot, looks parked. A parked bike has
no rider, so a vehicle box with a person *on* it (centred over it, head above it, feet on it) is removed
before the rules see it. A pedestrian standing beside a parked bike is not centred over it, and one walking
in front of it has their feet below it, so the bike stays.

>>> import numpy as np
>>> from detector.detections import Detections
>>> d = Detections(xyxy=np.array([[100, 150, 200, 250],    # bicycle
...                               [110, 60, 190, 230],     # its rider: head above, feet on it
...                               [400, 150, 500, 250]],   # a parked bicycle, nobody on it
...                              np.float32), confidence=np.ones(3, np.float32), class_id=np.array([1, 0, 1]),
...                  class_names=("person", "bicycle"))
>>> ridden_mask(d, vehicle_classes={"bicycle"}, rider_classes={"person"}).tolist()
[True, False, False]
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from detector.detections import Detections


def ridden_mask(detections: Detections, vehicle_classes: Collection[str], rider_classes: Collection[str]) -> np.ndarray:
    """True for each vehicle detection that has a rider on it.

    A rider's box is centred over the vehicle, their head is above it and their feet end within a quarter of
    the vehicle's height of its top or inside it (a small, far rider is often found only down to the waist).
    """
    names = detections.names if len(detections) else np.array([], dtype=object)
    is_vehicle = np.isin(names, list(vehicle_classes))
    is_rider = np.isin(names, list(rider_classes))
    mask = np.zeros(len(detections), bool)
    if not is_vehicle.any() or not is_rider.any():
        return mask
    vehicles, riders = detections.xyxy[is_vehicle], detections.xyxy[is_rider]
    vx1, vy1, vx2, vy2 = (vehicles[:, None, k] for k in range(4))
    rx1, ry1, rx2, ry2 = (riders[None, :, k] for k in range(4))
    vh = vy2 - vy1
    centre_x = (rx1 + rx2) / 2
    on_it = (
        (centre_x >= vx1) & (centre_x <= vx2)  # over the vehicle, not beside it
        & (ry1 < vy1)  # head above the vehicle
        & (ry2 >= vy1 - 0.25 * vh) & (ry2 <= vy2 + 0.25 * vh)  # feet on it, not on the ground in front
    )
    mask[np.flatnonzero(is_vehicle)] = on_it.any(axis=1)
    return mask


def drop_ridden(detections: Detections, vehicle_classes: Collection[str],
                rider_classes: Collection[str] = ("person",)) -> Detections:
    """``detections`` without the vehicles that carry a rider."""
    if not len(detections) or not vehicle_classes:
        return detections
    mask = ridden_mask(detections, vehicle_classes, rider_classes)
    return detections[~mask] if mask.any() else detections
