"""`connmodel api` runs on uvicorn's C parts: httptools parses HTTP and uvloop runs the loop;
its workers listen on sockets of their own.

uvicorn picks them only when installed (`--http auto`, `--loop auto`) and falls back silently to
pure-Python h11 and asyncio, which cost 1-2 ms of CPU per request (docs/api.md): the process's
own memory maps show which it loaded.
"""

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from cryptography.fernet import Fernet

from api.running import CONNMODEL, start_api, stop
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


def listening_sockets(port: int) -> int:
    """How many sockets listen on this loopback TCP port (/proc/net/tcp: one line each)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines
               if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")


@pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT and /proc")
def test_each_worker_listens_on_a_socket_of_its_own_and_gets_connections(tmp_path):
    """Workers sharing one socket: a burst of connections all went to whichever woke first
    (asyncio accepts every waiting one), so a gateway's 16 keep-alive connections opened together
    had one worker in half the benchmark runs, one core idle. With a socket each (SO_REUSEPORT)
    the kernel spreads them."""
    url = f"sqlite:///{tmp_path / 'connmodel.db'}"
    upgrade(get_engine(url))
    get_engine(url).dispose()
    process, api = start_api(url, tmp_path / "api.log", "--workers", "2",
                             env={"CONNMODEL_SECRET_KEY": Fernet.generate_key().decode()})
    clients = [httpx.Client(base_url=api, timeout=30) for _ in range(32)]
    try:
        port = int(api.rsplit(":", 1)[1])
        deadline = time.monotonic() + 60  # the API answers once one worker is up; the other
        while listening_sockets(port) < 2 and time.monotonic() < deadline:  # may import later
            time.sleep(0.1)
        assert listening_sockets(port) == 2
        with ThreadPoolExecutor(32) as pool:  # 32 connections opened together, kept open
            assert set(pool.map(lambda c: c.get("/openapi.json").status_code, clients)) == {200}
        sockets = [w.net_connections("tcp") for w in psutil.Process(process.pid).children()]
        held = sorted(sum(c.status == psutil.CONN_ESTABLISHED for c in mine)
                      for mine in sockets if any(c.status == psutil.CONN_LISTEN for c in mine))
        assert len(held) == 2 and sum(held) == 32 and held[0] >= 4, held
    finally:
        for client in clients:
            client.close()
        stop(process)


def test_a_port_in_use_is_a_clear_error_with_several_workers(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([CONNMODEL, "api", "--port", str(port), "--workers", "2",
                               "--database", f"sqlite:///{tmp_path / 'connmodel.db'}"],
                              check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
