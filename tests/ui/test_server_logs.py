"""Servers started by tests (tests/servers.py) log to a file, their failures show its tail, and
a server counts as up only when the listener on its port is its own.

A pipe nobody reads fills at 64 KiB and then blocks the server's next write: a chatty server
would hang before it listens. These use a tiny stand-in server, not Panel, so they take a second.
"""

import http.server
import socket
import sys
import threading
from pathlib import Path

import pytest
from servers import free_port, serving

CHATTY = """
import http.server, sys
sys.stderr.write("chatter " * 200_000)  # 1.6 MB: far more than a pipe holds
sys.stderr.flush()
print("listening", flush=True)

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""
FAILING = "import sys; print('boom: no database at sqlite:///x.db', file=sys.stderr); sys.exit(3)"


def _serve(tmp_path: Path, script: str, port: int | None = None, **kwargs):
    port = port or free_port()
    return serving([sys.executable, "-c", script, str(port)], port=port,
                   log=tmp_path / "server.log", env={}, cwd=tmp_path,
                   ready_url=f"http://127.0.0.1:{port}/", **kwargs)


def test_a_chatty_server_comes_up_and_its_output_is_in_the_log(tmp_path):
    with _serve(tmp_path, CHATTY, timeout=30) as proc:
        assert proc.poll() is None
    log = (tmp_path / "server.log").read_text()
    assert log.count("chatter") == 200_000 and "listening" in log


def test_a_server_that_exits_fails_with_its_log_tail(tmp_path):
    with pytest.raises(RuntimeError) as failure, _serve(tmp_path, FAILING, timeout=30):
        pass
    assert "the server exited with code 3" in str(failure.value)
    assert "boom: no database at sqlite:///x.db" in str(failure.value)


def test_a_test_that_fails_against_the_server_carries_the_log_tail(tmp_path):
    with pytest.raises(AssertionError) as failure, _serve(tmp_path, CHATTY, timeout=30):
        raise AssertionError("the page did not show the card")
    (note,) = failure.value.__notes__
    assert note.startswith(f"--- end of the server log {tmp_path / 'server.log'} ---")
    assert "listening" in note and '"GET / HTTP/1.1" 200' in note  # the start-up request


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"not the server under test")


def test_a_stranger_on_the_port_is_not_taken_for_the_server(tmp_path):
    """Another process listening on the port first (another pytest-xdist worker's server, say)
    answered for the server, which then could not bind: the test talked to a stranger. Seen
    passing the stranger off as the server before `serving` asked whose the listener was."""
    port = free_port()
    stranger = http.server.HTTPServer(("127.0.0.1", port), _Ok)
    threading.Thread(target=stranger.serve_forever, daemon=True).start()
    try:
        late = "import time; time.sleep(1)\n" + CHATTY  # Panel takes a while to import
        with pytest.raises(RuntimeError) as failure, _serve(tmp_path, late, port, timeout=30):
            pass
    finally:
        stranger.shutdown()
        stranger.server_close()
    assert "the server exited with code 1" in str(failure.value)
    assert "Address already in use" in str(failure.value)


def test_consecutive_ports_are_free_and_not_handed_out_again():
    """The deployment's supervisor takes PORT and PORT+1: with ports handed out in turn, the
    next call returned PORT+1 (its fixture then looped, asking for a pair again and again)."""
    base = free_port(consecutive=2)
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", base))
        second.bind(("127.0.0.1", base + 1))
        assert free_port() not in (base, base + 1)
