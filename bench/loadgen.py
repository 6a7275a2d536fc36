"""wrk as the benchmarks' HTTP client: keep-alive connections driven by one C thread, so the
client takes little of the CPU the measured servers need on a 2-core machine (an asyncio +
httpx client took most of a core at a few hundred requests/s and capped every server's figure).

`measure` keeps `concurrency` requests in flight for `seconds` (a closed loop: each connection
sends its next request when the previous answer is in; wrk runs for a time, not a count) and
returns wrk's latency percentiles and the achieved rate. Any answer but 200 fails the measurement with its status and body. wrk
is Debian's package (`make bench` and `make test` install it).
"""

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# One Lua state runs each wrk thread (-t1: one); `done` runs in another and reads the thread's
# globals through the handle `setup` kept. A body is drawn at random for each request.
SCRIPT = """
local bodies = {%(bodies)s}
local threads = {}
wrk.method = %(method)s
%(headers)s
function setup(thread) table.insert(threads, thread) end
function init(args) bad, first_bad = 0, "" end
function request()
  if #bodies > 0 then return wrk.format(nil, nil, nil, bodies[math.random(#bodies)]) end
  return wrk.format()
end
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. ": " .. string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local t = threads[1]
  local errors = summary.errors
  io.write(string.format('\\n{"wrk": 1, "p50_us": %%d, "p95_us": %%d, "answered": %%d, '
    .. '"duration_us": %%d, "bad": %%d, "socket_errors": %%d}\\n',
    latency:percentile(50), latency:percentile(95), summary.requests, summary.duration,
    t:get("bad"), errors.connect + errors.read + errors.write + errors.timeout))
  io.write("FIRST_BAD " .. t:get("first_bad") .. "\\n")
end
"""


def _lua(text: str) -> str:
    """A Lua long string holding `text` as it is (no escapes are interpreted in one)."""
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def available() -> bool:
    return shutil.which("wrk") is not None


def measure(url: str, *, seconds: int, concurrency: int, method: str = "GET",
            headers: Mapping[str, str] | None = None, bodies: Sequence[str] = ()
            ) -> dict[str, Any]:
    """p50 / p95 (ms) and requests/s of `concurrency` requests at a time for `seconds`, after
    a one-second warm-up (connections, caches) that is not counted."""
    if not available():
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    every = {"Content-Type": "application/json", **(headers or {})} if bodies else dict(
        headers or {})
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "measure.lua"
        script.write_text(SCRIPT % {
            "bodies": ", ".join(_lua(b) for b in bodies),
            "method": _lua(method),
            "headers": "\n".join(f"wrk.headers[ {_lua(k)} ] = {_lua(v)}"  # [ [: not [[
                                 for k, v in every.items())})

        def run(duration: int) -> dict[str, Any]:
            done = subprocess.run(
                ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--timeout", "120s",
                 "-s", str(script), url], check=False, capture_output=True, text=True)
            out = done.stdout
            lines = [x for x in out.splitlines() if x.startswith('{"wrk"')]
            if not lines:
                raise RuntimeError(f"wrk gave no figures for {url}: {done.stderr or out}"[:500])
            figures: dict[str, Any] = json.loads(lines[-1])
            if figures["bad"]:
                bad = next(x for x in out.splitlines() if x.startswith("FIRST_BAD "))
                raise RuntimeError(f"{figures['bad']} answer(s) not 200 from {url}: "
                                   f"{bad.removeprefix('FIRST_BAD ')}")
            return figures

        run(1)
        figures = run(seconds)
    elapsed = figures["duration_us"] / 1e6
    if not figures["answered"]:  # every request outlasted the run: no latency to report
        return {"p50_ms": None, "p95_ms": None, "rps": 0.0, "runs": 0,
                "transport_errors": figures["socket_errors"]}
    return {"p50_ms": round(figures["p50_us"] / 1000, 2),
            "p95_ms": round(figures["p95_us"] / 1000, 2),
            "rps": round(figures["answered"] / elapsed, 1), "runs": figures["answered"],
            "transport_errors": figures["socket_errors"]}
