"""Live status checks of connections against their real MCP servers (see runner, probe, record).

The names below load on first use (PEP 562): the MCP SDK takes most of a second to import, and
`connmodel` commands that never check should not pay for it.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connmodel.checks.probe import Outcome, Probe, probe_server
    from connmodel.checks.record import ConnectionCheck, ServerCheck, prune_history, tally
    from connmodel.checks.runner import CheckRequest, check_connections, run_checks

_HOME = {
    "Outcome": "probe", "Probe": "probe", "probe_server": "probe",
    "ConnectionCheck": "record", "ServerCheck": "record", "prune_history": "record",
    "tally": "record",
    "CheckRequest": "runner", "check_connections": "runner", "run_checks": "runner",
}
__all__ = ["CheckRequest", "ConnectionCheck", "Outcome", "Probe", "ServerCheck",
           "check_connections", "probe_server", "prune_history", "run_checks", "tally"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
