"""A fixed, elevated pinhole camera looking at a flat street (world: X right, Y up, Z along the street)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at (0, height_m, 0), turned right by ``yaw_deg`` and tilted down by ``pitch_deg``.

    >>> cam = Camera(width=1280, height=720, height_m=6.0, pitch_deg=20.0, yaw_deg=0.0, hfov_deg=60.0)
    >>> u, v = cam.project(np.array([[0.0, 0.0, 6.0 / math.tan(math.radians(20))]]))[0]
    >>> round(float(u)), round(float(v))
    (640, 360)
    """

    width: int
    height: int
    height_m: float
    pitch_deg: float
    yaw_deg: float
    hfov_deg: float

    @property
    def focal_px(self) -> float:
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World (N, 3) -> camera coordinates (N, 3): x right, y down, z forward."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        dx, dy, dz = p[:, 0], p[:, 1] - self.height_m, p[:, 2]
        x1 = dx * math.cos(yaw) - dz * math.sin(yaw)
        z1 = dx * math.sin(yaw) + dz * math.cos(yaw)
        y1 = -dy
        y2 = y1 * math.cos(pitch) - z1 * math.sin(pitch)
        z2 = y1 * math.sin(pitch) + z1 * math.cos(pitch)
        return np.stack([x1, y2, z2], axis=1)

    def cam_to_pixels(self, c: np.ndarray) -> np.ndarray:
        f = self.focal_px
        z = np.maximum(c[:, 2], 1e-6)
        return np.stack([self.width / 2 + f * c[:, 0] / z, self.height / 2 + f * c[:, 1] / z], axis=1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World (N, 3) -> pixels (N, 2); points must be in front of the camera."""
        return self.cam_to_pixels(self.to_camera(points))

    def project_polygon(self, points: np.ndarray, near: float = 0.3) -> np.ndarray | None:
        """Project a world polygon, clipped to the part in front of the near plane (None when nothing is)."""
        c = self.to_camera(points)
        out: list[np.ndarray] = []
        n = len(c)
        for i in range(n):
            a, b = c[i], c[(i + 1) % n]
            a_in, b_in = a[2] >= near, b[2] >= near
            if a_in:
                out.append(a)
            if a_in != b_in:
                t = (near - a[2]) / (b[2] - a[2])
                out.append(a + t * (b - a))
        if len(out) < 3:
            return None
        return self.cam_to_pixels(np.array(out))

    def depth(self, points: np.ndarray) -> np.ndarray:
        return self.to_camera(points)[:, 2]

    def horizon_y(self) -> float:
        """Image row of the horizon (far points of the ground plane)."""
        return self.height / 2 - self.focal_px * math.tan(math.radians(self.pitch_deg))

    def ground_at_row(self, v: float) -> float:
        """Distance along the optical axis's ground direction for image row v (below the horizon)."""
        f = self.focal_px
        angle = math.radians(self.pitch_deg) + math.atan((v - self.height / 2) / f)
        return self.height_m / math.tan(max(angle, 1e-3))

    def unproject_ground(self, u: float, v: float) -> np.ndarray | None:
        """Pixel -> world point on the ground (Y=0), or None above the horizon."""
        f = self.focal_px
        ray = np.array([(u - self.width / 2) / f, (v - self.height / 2) / f, 1.0])
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        # invert pitch then yaw
        y1 = ray[1] * math.cos(pitch) + ray[2] * math.sin(pitch)
        z1 = -ray[1] * math.sin(pitch) + ray[2] * math.cos(pitch)
        x1 = ray[0]
        dx = x1 * math.cos(yaw) + z1 * math.sin(yaw)
        dz = -x1 * math.sin(yaw) + z1 * math.cos(yaw)
        dy = -y1
        if dy >= -1e-6:
            return None
        t = self.height_m / -dy
        return np.array([dx * t, 0.0, dz * t])
