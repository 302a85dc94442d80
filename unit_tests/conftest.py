from typing import List

import pytest

from source_segment.client import SegmentClient


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> List[float]:
    """Every wait the client asks for, recorded instead of slept: no test sleeps for real backoff."""
    recorded: List[float] = []
    monkeypatch.setattr(SegmentClient, "sleep", staticmethod(recorded.append))
    return recorded


@pytest.fixture(autouse=True)
def budget_waits(monkeypatch) -> List[float]:
    """Waits the client-side rate budget imposes, recorded instead of slept."""
    from source_segment.rate_limiting import CallBudget

    recorded: List[float] = []
    monkeypatch.setattr(CallBudget, "sleep", staticmethod(recorded.append))
    return recorded
