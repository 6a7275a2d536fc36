"""Live status checks of connections against their real MCP servers (see runner, probe, record)."""

from connmodel.checks.probe import Outcome, Probe, probe_server
from connmodel.checks.record import ConnectionCheck, ServerCheck, prune_history
from connmodel.checks.runner import CheckRequest, check_connections, run_checks

__all__ = ["CheckRequest", "ConnectionCheck", "Outcome", "Probe", "ServerCheck",
           "check_connections", "probe_server", "prune_history", "run_checks"]
