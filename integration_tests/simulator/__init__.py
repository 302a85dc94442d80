"""Local simulator of the Segment Public API (stdlib only).

    from integration_tests.simulator import Simulator, FaultSpec
    with Simulator(size="small", seed=1) as sim:
        ...  # point the connector at sim.url with token sim.token
"""
from .data import Workspace
from .server import FAULT_KINDS, FEATURES, ApiError, FaultSpec, RequestLogEntry, Simulator

__all__ = ["Simulator", "FaultSpec", "RequestLogEntry", "Workspace", "ApiError", "FAULT_KINDS", "FEATURES"]
