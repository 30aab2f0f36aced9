"""Per-camera object tracking (ByteTrack; `detector.tracking.bytetrack`)."""

from detector.tracking.bytetrack import CameraTrackers, TrackingConfig

__all__ = ["CameraTrackers", "TrackingConfig"]
