"""Starting and stopping `connmodel api` processes for tests and benchmarks."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from servers import free_port

from connmodel.secrets import KeyRing

CONNMODEL = str(Path(sys.executable).parent / "connmodel")


@dataclass
class RunningApi:
    """A `connmodel api` process; `client(scope)` is an HTTP client sending that scope's token."""

    url: str
    database_url: str
    tokens: dict[str, str]
    keyring: KeyRing
    log: Path

    def client(self, scope: str | None = "admin", **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30, **kw)


def start_api(database_url: str, log: Path, *extra: str, env: dict[str, str] | None = None
              ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([CONNMODEL, "api", "--port", str(port), "--database",
                                    database_url, *extra], stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"connmodel api exited: {log.read_text()}")
        try:
            httpx.get(url + "/openapi.json", timeout=2)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"connmodel api did not start: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


