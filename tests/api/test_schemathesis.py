"""Schemathesis against the running API with an admin token on a demo database: every operation
of /openapi.json, with boundary values (coverage phase) and generated ones (fuzzing), must answer
no 5xx, a documented status, the declared content type and a body matching its schema."""

import subprocess
import sys
from pathlib import Path

import pytest

from api.running import start_api, stop
from connmodel.services.demo import seed_demo
from connmodel.services.tokens import add_token
from connmodel.store import session

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")


@pytest.mark.timeout(420)  # ~60 s on this machine; a loaded one may take several times that
def test_every_operation_answers_as_documented(sqlite_url, keyring, admin, tmp_path):
    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        token = add_token(s, actor=admin, name="schemathesis", scope="admin")
    process, url = start_api(sqlite_url, tmp_path / "api.log")
    try:
        run = subprocess.run(
            [SCHEMATHESIS, "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {token}",
             "--checks", CHECKS, "--phases", "coverage,fuzzing", "--max-examples", "5",
             "--seed", "18", "--workers", "2", "--report-dir", str(tmp_path / "report")],
            check=False, capture_output=True, text=True, timeout=400)
    finally:
        stop(process)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "generated" in run.stdout
