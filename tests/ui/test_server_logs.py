"""Servers started by tests write to a log file, and their failures show its tail.

A pipe nobody reads fills at 64 KiB and then blocks the server's next write: a chatty server
would hang before it listens. These use a tiny stand-in server, not Panel, so they take a second.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

# tests/ui/conftest.py by its file: `from conftest import` finds another directory's conftest
# when several test directories are given on one command line.
_spec = importlib.util.spec_from_file_location("ui_serving", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
ui = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ui)

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


def _serve(tmp_path: Path, script: str, **kwargs):
    port = ui.free_port()
    return ui.serving([sys.executable, "-c", script, str(port)], port=port,
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
