"""Uplink: the durable event outbox on the box and the thread that delivers it to the case service."""

from detector.uplink.outbox import Outbox, OutboxItem
from detector.uplink.sender import Sender

__all__ = ["Outbox", "OutboxItem", "Sender"]
