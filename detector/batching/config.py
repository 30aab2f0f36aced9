"""The ``batch:`` section of edge.yaml: how the due frames of all cameras are gathered into model calls."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from detector.zones.region import ZoneCropConfig


class BatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_batch: Annotated[int, Field(title="Max batch", description="Most frames in one inference call (the "
                                    "backend's own max_batch caps it: a fixed-batch model takes what it takes)",
                                    ge=1, le=256)] = 8
    max_collect: Annotated[int, Field(title="Max frames per round", description="Most camera frames taken in one "
                                      "round when a gate is on (never fewer than max_batch): the gate skips most "
                                      "of them, the rest go to the model in batches of max_batch. Results reach "
                                      "the rules at the end of a round, so a longer round makes every frame of it "
                                      "later: 64 took 48 quiet cameras past 2 s lateness where 8 kept them on time "
                                      "(BENCHMARKS.md)", ge=1, le=1024)] = 8
    max_wait_ms: Annotated[float, Field(title="Max wait", description="Longest a frame waits for a batch to fill "
                                        "(ms)", ge=0, le=5000)] = 50.0
    zone_crop: Annotated[ZoneCropConfig, Field(title="Zone crop", description="Infer only the rectangle of each "
                                              "camera's zones, plus margins (detector/zones/region.py)")] = ZoneCropConfig()
