"""`connmodel api` runs on uvicorn's C parts: httptools parses HTTP and uvloop runs the loop.

uvicorn picks them only when installed (`--http auto`, `--loop auto`) and falls back silently to
pure-Python h11 and asyncio, which cost 1-2 ms of CPU per request (docs/api.md): the process's
own memory maps show which it loaded.
"""

import sys
from pathlib import Path

import psutil
import pytest
from cryptography.fernet import Fernet

from api.running import start_api, stop
from connmodel.schema import upgrade
from connmodel.store import get_engine


@pytest.mark.skipif(sys.platform != "linux", reason="uvloop has no Windows build; maps via /proc")
def test_the_api_process_loads_httptools_and_uvloop(tmp_path):
    url = f"sqlite:///{tmp_path / 'connmodel.db'}"
    upgrade(get_engine(url))
    get_engine(url).dispose()
    process, _ = start_api(url, tmp_path / "api.log",
                           env={"CONNMODEL_SECRET_KEY": Fernet.generate_key().decode()})
    try:
        packages = {part for m in psutil.Process(process.pid).memory_maps()
                    for part in Path(m.path).parts}
    finally:
        stop(process)
    assert {"httptools", "uvloop"} <= packages
