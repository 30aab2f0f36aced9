"""The merchant-standing thresholds as a settings type (the logic is `api.services.standing`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StandingRules(BaseModel):
    """Thresholds of the green / yellow / red standing (``FRONTAGE_STANDING_RULES`` as JSON)."""

    window_days: float = Field(90.0, gt=0, title="Window", description="Rolling window, days")
    repeat_gap_days: float = Field(30.0, gt=0, title="Repeat gap",
                                   description="A case this soon after the previous one is a repeat offence")
    red_escalated: int = Field(2, ge=1, title="Red: escalated", description="Escalated cases that make it red")
    red_repeat: int = Field(3, ge=1, title="Red: repeats", description="Repeat offences that make it red")
    yellow_escalated: int = Field(1, ge=1, title="Yellow: escalated",
                                  description="Escalated cases that make it yellow")
    yellow_repeat: int = Field(1, ge=1, title="Yellow: repeats", description="Repeat offences that make it yellow")
    yellow_below_rate: float = Field(0.8, ge=0, le=1, title="Yellow: rate",
                                     description="Self-rectification rate below this makes it yellow")
    min_cases: int = Field(3, ge=1, title="Rate needs cases",
                           description="Cases with an outcome needed before the rate counts")
