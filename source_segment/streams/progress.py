"""ESTIMATE traces, so Airbyte and PyAirbyte can show how far a long sync has come."""

from __future__ import annotations

import time
from typing import Optional

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    EstimateType,
    TraceType,
    Type,
)


def estimate(stream: str, rows: float) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ESTIMATE,
            emitted_at=time.time() * 1000,
            estimate=AirbyteEstimateTraceMessage(name=stream, type=EstimateType.STREAM, row_estimate=max(0, int(rows))),
        ),
    )


class SliceProgress:
    """Rows read so far, extrapolated over all of a sliced stream's slices; reported after each tenth."""

    def __init__(self, stream: str, slices: int = 0):
        self.stream = stream
        self.slices = slices
        self.done = 0
        self.records = 0

    def slice_finished(self, records: int) -> Optional[AirbyteMessage]:
        if self.slices < 2:
            return None
        self.done += 1
        self.records += records
        step = max(1, self.slices // 10)
        if self.done == 1 or self.done % step == 0:
            return estimate(self.stream, self.records * self.slices / self.done)
        return None
