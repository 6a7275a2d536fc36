"""The periodic audit report: every audit query run once, the findings counted, and the answer
to "should this alert?" (`failing`). Rendering lives in `render`; this module only gathers.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import pandas as pd
from sqlmodel import Session

from connmodel.audit import queries as q
from connmodel.audit.actions import Recommendation, recommendations
from connmodel.errors import InvalidInput
from connmodel.models import utcnow
from connmodel.permissions import Actor
from connmodel.store import database_url as store_url
from connmodel.store import describe


class Finding(StrEnum):
    """What `--fail-on` can name: each is a count in the report's summary."""

    ERROR = "error"
    STALE = "stale"
    EXPIRING = "expiring"


@dataclass(frozen=True)
class Section:
    """One table of the report; `count` names its total in `AuditReport.counts` when `limit`
    can cut it (None: one row per group, listed whole)."""

    key: str
    title: str
    why: str
    count: str | None = None


SECTIONS = (
    Section("erroring", "Erroring connections",
            "Authentication failed: re-authenticate or revoke. Oldest first.", "error"),
    Section("stale", "Stale connections",
            "Never used, or not used within the window: candidates for revocation.", "stale"),
    Section("expiring", "Expiring and expired credentials",
            "Expiring within the window, or already expired yet still marked Active.",
            "expiring"),
    Section("unused_profiles", "Unused profiles", "No live connection, or no MCP server using it.",
            "unused_profiles"),
    Section("mixed_environments", "Provider configs shared across environments",
            "One client and secret used by profiles of several environments.",
            "mixed_environments"),
    Section("unchecked_production", "Production profiles without a recent check",
            "No live connection of the profile was checked within the hours given.",
            "unchecked_production"),
    Section("error_rate_by_provider", "Error rate per provider",
            "Live connections in Error now, and failed checks within the window."),
    Section("audit_trail", "Revocations and re-authorizations",
            "Successful changes per day, by actor."),
)


@dataclass
class AuditReport:
    """Small DataFrames only: each table holds at most `limit` rows or one row per day/group."""

    generated_at: datetime
    database: str
    days: int
    hours: int
    environment: str | None
    limit: int
    empty: bool
    totals: pd.DataFrame
    counts: dict[str, int]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    charts: dict[str, pd.DataFrame] = field(default_factory=dict)
    recommendations: list[Recommendation] = field(default_factory=list)

    def failing(self, fail_on: set[Finding]) -> list[Finding]:
        """The findings among `fail_on` that exist (non-empty means exit code 1)."""
        return failing(self.counts, fail_on)

    def truncated(self, section: Section) -> bool:
        """Whether `limit` left rows of the section out."""
        shown = len(self.tables[section.key])
        return section.count is not None and self.counts[section.count] > shown


def failing(counts: dict[str, int], fail_on: set[Finding]) -> list[Finding]:
    """The findings among `fail_on` whose count is above zero, in `Finding` order."""
    return [f for f in Finding if f in fail_on and counts[f.value] > 0]


def count_findings(session: Session, *, actor: Actor, findings: set[Finding], days: int = 30,
                   environment: str | None = None, now: datetime | None = None) -> dict[str, int]:
    """The exact count of each finding asked for, and nothing else: when a notebook is the
    report, this is all the exit code needs (the report's tables would be thrown away)."""
    counters = {
        Finding.ERROR: lambda: q.error_count(session, actor=actor, environment=environment),
        Finding.STALE: lambda: q.stale_count(session, actor=actor, days=days,
                                             environment=environment, now=now),
        Finding.EXPIRING: lambda: q.expiring_count(session, actor=actor, days=days,
                                                   environment=environment, now=now),
    }
    return {f.value: counters[f]() for f in Finding if f in findings}


def parse_fail_on(value: str | None) -> set[Finding]:
    """'error,stale' -> {ERROR, STALE}; an unknown name is InvalidInput (exit 2)."""
    if not value:
        return set()
    found: set[Finding] = set()
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            found.add(Finding(name))
        except ValueError:
            raise InvalidInput(f"unknown --fail-on finding {part.strip()!r}: choose from "
                               + ", ".join(f.value for f in Finding)) from None
    return found


def build_report(session: Session, *, actor: Actor, database_url: str | None = None,
                 days: int = 30, hours: int = 24, environment: str | None = None,
                 limit: int = 50, now: datetime | None = None) -> AuditReport:
    """Run every audit query once, of `environment` where a question is about connections or
    profiles (the check history and the audit trail are of every environment, as in the
    notebooks). `days` is the staleness threshold, the expiry horizon and the history window;
    `hours` the production check window. `database_url` is the URL the caller named (it goes,
    password hidden, into the recommended commands)."""
    q.check_days(days)
    q.check_days(hours, "hours")
    q.check_limit(limit)
    now = now or utcnow()
    counts = q.live_counts(session, actor=actor, environment=environment)
    totals = q.totals(session, actor=actor, environment=environment, counts=counts)
    report = AuditReport(
        generated_at=now, database=describe(store_url(database_url)), days=days, hours=hours,
        environment=environment, limit=limit, empty=q.is_empty(session, actor=actor),
        totals=totals, counts=_counts(session, actor=actor, totals=totals, days=days,
                                      hours=hours, environment=environment, now=now))
    t = report.tables
    t["erroring"] = q.erroring(session, actor=actor, limit=limit, environment=environment)
    t["stale"] = q.stale(session, actor=actor, days=days, limit=limit, now=now, environment=environment)
    t["expiring"] = q.expiring(session, actor=actor, days=days, limit=limit, now=now, environment=environment)
    t["unused_profiles"] = q.unused_profiles(session, actor=actor, limit=limit,
                                             environment=environment)
    t["mixed_environments"] = q.mixed_environments(session, actor=actor, limit=limit)
    t["unchecked_production"] = q.unchecked_production(session, actor=actor, hours=hours,
                                                       limit=limit, now=now)
    t["error_rate_by_provider"] = q.error_rate_by_provider(
        session, actor=actor, days=days, environment=environment, now=now, counts=counts)
    t["audit_trail"] = q.audit_trail(session, actor=actor, days=days, now=now)
    c = report.charts
    c["status_by_profile"] = q.status_by_profile(session, actor=actor, environment=environment,
                                                 counts=counts)
    c["status_over_time"] = q.status_over_time(session, actor=actor, days=days, now=now)
    c["expiry_timeline"] = q.expiry_timeline(session, actor=actor, days=days,
                                             environment=environment, now=now)
    report.recommendations = recommendations(
        erroring=t["erroring"], stale=t["stale"], expiring=t["expiring"],
        production_unchecked=t["unchecked_production"], database_url=database_url)
    return report


def _counts(session: Session, *, actor: Actor, totals: pd.DataFrame, days: int, hours: int,
            environment: str | None, now: datetime) -> dict[str, int]:
    """Every finding's true total: the summary (and JSON consumers) read these, not the rows
    a `limit` lets through."""
    return {
        Finding.ERROR.value: int(totals.set_index("status").loc["Error", "connections"]),
        Finding.STALE.value: q.stale_count(session, actor=actor, days=days,
                                           environment=environment, now=now),
        Finding.EXPIRING.value: q.expiring_count(session, actor=actor, days=days,
                                                 environment=environment, now=now),
        "unused_profiles": q.unused_profiles_count(session, actor=actor, environment=environment),
        "mixed_environments": q.mixed_environments_count(session, actor=actor),
        "unchecked_production": q.unchecked_production_count(session, actor=actor, hours=hours,
                                                             now=now),
    }
