"""The words a profile's connections hold, so a search can skip profiles that cannot match.

A profile's terms are the runs of letters (a-z, after lowering) in its connections' accounts and
services, kept in `profile_term` by triggers (migration 0013). A needle can only occur in a text
if each of its own runs of letters lies inside one of the text's: so a profile none of whose
terms contains some run of the needle has no match, and a search for a common needle walks
only the rows of the profiles that pass (connmodel.services.groups). Terms are only added (a
revoked or changed row leaves its old ones): the test may pass a profile without a match, never
skip one with a match.
"""

import json
import re

from sqlalchemy import text
from sqlmodel import Session

PATTERN = "[a-z]+"  # the same runs in Python (SQLite's connmodel_terms) and PostgreSQL's regex
_RUNS = re.compile(PATTERN)


def terms(text: str) -> list[str]:
    """The runs of letters of `text`, lowered."""
    return _RUNS.findall(text.lower())


def terms_json(text: str | None) -> str:
    """`terms` as a JSON array: SQLite's `connmodel_terms(text)`, for the triggers."""
    return json.dumps(sorted(set(terms(text or ""))))


def needle_runs(needle: str) -> list[str]:
    """The runs of letters every profile with a match must hold (none for a non-ASCII needle,
    whose case folding differs between the stores: it is not pruned)."""
    return sorted(set(terms(needle))) if needle.isascii() else []


def holding_profiles(session: Session, needle: str) -> dict[str, list[int]] | None:
    """By column (account, service), the profiles whose terms hold every run of `needle`'s
    letters: the only ones where it can match (None for a needle without runs: no pruning).
    One pass over the terms (with a probe of each profile's terms per matching term for each
    further run, "hooli.example" cost 10 ms on PostgreSQL at 2,000 profiles, 6 ms now), the
    ids of each column joined by the store (2,000 rows read one by one cost 12 ms on
    SQLite)."""
    runs = needle_runs(needle)
    if not runs:
        return None
    conn = session.connection()
    held = " AND ".join(f"count(CASE WHEN term LIKE :run_{i} THEN 1 END) > 0"
                        for i in range(len(runs)))
    joined = ("group_concat(profile_id)" if conn.dialect.name == "sqlite"
              else "string_agg(CAST(profile_id AS text), ',')")
    found: dict[str, list[int]] = {"account": [], "service": []}
    for source, ids in conn.execute(
            text(f"SELECT source, {joined} FROM (SELECT profile_id, source FROM profile_term "
                 "WHERE " + " OR ".join(f"term LIKE :run_{i}" for i in range(len(runs)))
                 + f" GROUP BY profile_id, source HAVING {held}) AS held GROUP BY source"),
            {f"run_{i}": f"%{run}%" for i, run in enumerate(runs)}):  # runs are a-z only
        found[source] = sorted(int(i) for i in ids.split(","))
    return found
