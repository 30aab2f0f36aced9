"""Camera health as the edge reports it and as staff read it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.types import CleanStr
from detector.categories import Category
from detector.zones.known import KnownObject


class ProposedObject(BaseModel):
    """Commissioning: a static object the edge saw in a zone, for an operator to accept as a known object."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(title="Id", description="The edge's id of the proposal", pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    zone: Annotated[str, Field(title="Zone", description="Zone id", pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    category: Annotated[Category, Field(title="Category", description="What it was detected as")]
    class_name: Annotated[CleanStr | None, Field(title="Model class", description="What the model called it",
                                                 max_length=100)] = None
    box: Annotated[tuple[float, float, float, float], Field(title="Box", description="Normalised xyxy")]
    signature: Annotated[list[float] | None, Field(title="Signature", description="64-bin colour histogram",
                                                   max_length=64)] = None
    static_s: Annotated[float, Field(title="Static for", description="Seconds it stood still", ge=0, le=10**7)] = 0

    @model_validator(mode="after")
    def _as_known_object(self) -> ProposedObject:
        """Only what could be accepted: the same checks as a zones file's known object (box, signature)."""
        KnownObject(id=self.id, category=self.category, box=self.box, signature=self.signature)
        return self


class CameraHealthReport(BaseModel):
    """``PUT /api/v1/device/cameras/{code}/health``: one camera as its edge box sees it now."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    online: Annotated[bool, Field(title="Online", description="The edge is reading frames from the camera")]
    last_frame_age_s: Annotated[float | None, Field(title="Last frame age", description="Seconds since the newest "
                                                    "analysed frame", ge=0, le=10**9)] = None
    analysis_fps: Annotated[float | None, Field(title="Analysis rate", description="Analysed frames per second "
                                                "achieved since the last report", ge=0, le=1000)] = None
    decode_errors: Annotated[int, Field(title="Decode errors", description="Failed opens, reads and decodes so far",
                                        ge=0, le=2**31 - 1)] = 0
    reconnects: Annotated[int, Field(title="Reconnects", description="Reconnections so far", ge=0, le=2**31 - 1)] = 0
    model_name: Annotated[CleanStr | None, Field(title="Model", description="Model in use", max_length=100)] = None
    model_version: Annotated[CleanStr | None, Field(title="Model version", description="Version of the model in use",
                                                    max_length=100)] = None
    report_every_s: Annotated[float, Field(title="Report interval", description="Seconds until the next report; "
                                           "three missed reports make the camera offline", ge=1, le=3600)] = 60.0
    last_error: Annotated[CleanStr | None, Field(title="Last error", description="Why the camera is down, if it is",
                                                 max_length=500)] = None
    proposals: Annotated[list[ProposedObject], Field(title="Proposed known objects", description="Commissioning: "
                                                     "static objects seen in the zones", max_length=50)] = []


class CameraHealthAnswer(BaseModel):
    picture_requested: Annotated[bool, Field(title="Picture requested", description="An operator asked for a "
                                             "fresh picture: send one now")]


class CameraPicturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Annotated[int, Field(title="Picture id", description="Internal id")]
    taken_at: Annotated[datetime, Field(title="Taken at", description="When the edge grabbed the frame")]
    width: Annotated[int, Field(title="Width", description="Pixels")]
    height: Annotated[int, Field(title="Height", description="Pixels")]
    reference: Annotated[bool, Field(title="Reference", description="The view later pictures are compared with")]


class CameraHealthPublic(BaseModel):
    """What staff see of a camera's health (``GET /api/v1/cameras`` and ``/health``)."""

    model_config = ConfigDict(protected_namespaces=())

    status: Annotated[str, Field(title="Status", description="online, offline or unknown (never reported)")]
    alert: Annotated[str | None, Field(title="Alert", description="offline or view_changed; none when healthy")] = None
    alert_since: Annotated[datetime | None, Field(title="Alert since", description="When the alert was raised")] = None
    reported_at: Annotated[datetime | None, Field(title="Reported at", description="Last report received")] = None
    last_frame_age_s: Annotated[float | None, Field(title="Last frame age", description="At the last report (s)")] = None
    analysis_fps: Annotated[float | None, Field(title="Analysis rate", description="Frames analysed per second")] = None
    decode_errors: Annotated[int, Field(title="Decode errors", description="Reported by the edge")] = 0
    reconnects: Annotated[int, Field(title="Reconnects", description="Reported by the edge")] = 0
    model_name: Annotated[str | None, Field(title="Model", description="Model in use")] = None
    model_version: Annotated[str | None, Field(title="Model version", description="Model version in use")] = None
    last_error: Annotated[str | None, Field(title="Last error", description="Why it is down")] = None
    view_score: Annotated[float | None, Field(title="View likeness", description="Latest picture against the "
                                              "reference: 1 same view, below 0.65 changed")] = None
    picture: Annotated[CameraPicturePublic | None, Field(title="Picture", description="Latest clean picture")] = None
