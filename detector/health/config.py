"""``edge.yaml`` ``health:`` section: how often the edge reports each camera's health and sends its picture."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: Annotated[bool, Field(title="Report health", description="Send each camera's health and a clean "
                                   "current picture to the case service")] = True
    report_every_s: Annotated[float, Field(title="Report interval", description="Seconds between two health "
                                           "reports of a camera; the service calls a camera offline after three "
                                           "missed reports", ge=1, le=3600)] = 60.0
    picture_every_s: Annotated[float, Field(title="Picture interval", description="Seconds between two clean "
                                            "pictures of a camera (also sent at start and when an operator asks)",
                                            ge=10, le=86400)] = 300.0
    jpeg_quality: Annotated[int, Field(title="Picture quality", description="JPEG quality of the pictures (1-100)",
                                       ge=30, le=100)] = 85
    zones_from_service: Annotated[bool, Field(title="Zones from the service", description="Fetch each camera's "
                                              "zones file from the case service with every report (what the console "
                                              "edits: schedules, remembered objects) and write it over the local "
                                              "zones file; the edge picks it up without a restart")] = False
    commission_s: Annotated[float, Field(title="Commissioning window", description="Seconds after a camera "
                                         "starts (or its zones change) in which static objects in its zones are "
                                         "proposed as known objects for an operator to accept; 0: off",
                                         ge=0, le=7 * 86400)] = 3600.0
    commission_static_s: Annotated[float, Field(title="Static for", description="Seconds an object must stand "
                                                "still in a zone to be proposed", gt=0, le=86400)] = 300.0
    stale_frame_s: Annotated[float, Field(title="Frame age limit", description="A live camera whose newest frame "
                                          "is older than this (s) is reported offline", gt=0, le=3600)] = 30.0
