"""One audited store per module and kind (SQLite file, PostgreSQL), seeded by `auditdata`."""

from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import select

from audit.auditdata import seed_audit_store
from connmodel.models import AuditEvent, CheckResult, Connection, Profile, ProviderConfig
from connmodel.store import get_engine


@pytest.fixture(scope="module")
def audit_url(module_store_url) -> Iterator[str]:
    seed_audit_store(module_store_url)
    yield module_store_url


@pytest.fixture(scope="module")
def tables(audit_url) -> dict[str, pd.DataFrame]:
    """Whole tables in pandas: the naive way the tests compare the SQL answers with."""
    engine = get_engine(audit_url)
    out = {}
    with engine.connect() as conn:
        for model in (Connection, Profile, ProviderConfig, CheckResult, AuditEvent):
            table = model.__table__
            out[table.name] = pd.read_sql(select(table), conn)
        out["mcp_server"] = pd.read_sql("SELECT id, name, profile_id FROM mcp_server", conn)
    return out
