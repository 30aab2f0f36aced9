"""Injectable clock: the service never calls ``datetime.now`` directly, so demos and tests can move time.

>>> c = Clock(offset_s=3600)
>>> (c.now() - Clock().now()).total_seconds() > 3599
True
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock (UTC) plus an adjustable offset; thread-safe."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._offset = timedelta(seconds=offset_s)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def offset_s(self) -> float:
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
