"""``edge.yaml`` ``uplink:`` section: how the sender delivers the outbox to the case service.

It lives beside the sender (rather than in ``detector/config.py``) so that `Sender` takes the user's settings
as one typed object instead of re-spelling each field as a keyword argument.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class UplinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    retry_initial_s: Annotated[float, Field(title="First retry", description="Wait before the first retry of an "
                                            "undelivered event (s); doubles with each failure, with jitter", gt=0, le=600)] = 1.0
    retry_max_s: Annotated[float, Field(title="Longest retry wait", description="Cap on the retry wait (s): after "
                                        "an outage, delivery resumes at most this long after the service is back",
                                        gt=0, le=3600)] = 60.0
    timeout_s: Annotated[float, Field(title="Request timeout", description="Seconds to wait for the service's answer",
                                      gt=0, le=600)] = 15.0
    batch_size: Annotated[int, Field(title="Batch size", description="Most JSON-only events per batch request",
                                     ge=1, le=100)] = 50

    @model_validator(mode="after")
    def _initial_below_max(self) -> UplinkConfig:
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError(f"retry_initial_s ({self.retry_initial_s}) is longer than retry_max_s ({self.retry_max_s})")
        return self
