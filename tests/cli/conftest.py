"""Run the CLI in-process (`connmodel.cli.run`) and capture what the person at the terminal sees."""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from connmodel.cli import run, tables


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def one_line_error(self) -> str:
        """The error as a person sees it: non-zero exit, one line on stderr, no traceback."""
        assert self.code != 0, self.out
        assert "Traceback" not in self.err + self.out
        assert self.err.count("\n") == 1 and self.err.endswith("\n"), self.err
        return self.err.strip()


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys, monkeypatch, keyring) -> Cli:
    """`cli("connections", "-d", url)` -> Result; `stdin=` answers prompts."""
    monkeypatch.setenv("CONNMODEL_ACTOR", "alice")
    monkeypatch.delenv("CONNMODEL_DATABASE_URL", raising=False)
    monkeypatch.setattr(tables.console, "width", 200)  # a wide terminal: cells are not wrapped

    def invoke(*argv: str, stdin: str | None = None) -> Result:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
        code = run(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return invoke
