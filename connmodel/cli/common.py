"""What every command shares: the database option, the acting user, and output in two formats.

Table output is for people (`connmodel.cli.tables`, loaded only then); JSON output is for
scripts and its keys are stable.
"""

import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from sqlmodel import Session

from connmodel.errors import InvalidInput
from connmodel.paging import COUNT_CAP, Page
from connmodel.permissions import Actor, Role
from connmodel.store import require_existing, session
from connmodel.validation import clean_name

if TYPE_CHECKING:
    from connmodel.secrets import KeyRing

ID_MAX = 2**63 - 1  # the largest row id the stores hold (a 64-bit signed integer)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def not_empty(what: str) -> Callable[[str | None], str | None]:
    """An option's callback refusing an empty value: a script's unset variable, not a wish for
    the option's default nor for an empty `what`."""

    def given(value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise typer.BadParameter(f"is empty: give {what}, or leave the option out")
        return value

    return given


DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", "-d", help="Database URL (default: $CONNMODEL_DATABASE_URL or "
                 "sqlite:///connmodel.db).", show_default=False,
                 callback=not_empty("a database URL")),
]


def _profile_given(value: str | None) -> str | None:
    """Every -p refuses an empty or malformed profile name alike (it was refused three ways,
    and `servers` read an empty one as no filter)."""
    return None if value is None else clean_name(value, "profile name")


def profile_option(help: str) -> Any:
    """The --profile/-p option of every command, with `help` saying what it selects."""
    return typer.Option("--profile", "-p", help=help, show_default=False,
                        callback=_profile_given)


def _given(value: object) -> bool:
    """Whether an option was given: not its None, False or empty-list default."""
    return value is not None and value is not False and value != []


def refuse_together(option: str, value: object, others: dict[str, object]) -> None:
    """InvalidInput (exit 2) naming `option` and the first of `others` given with it: options
    that contradict each other are refused rather than one silently winning."""
    clash = next((name for name, other in others.items() if _given(other)), None)
    if _given(value) and clash:
        raise InvalidInput(f"{option} cannot be used with {clash}: give one or the other")


def refuse_without(option: str, value: object, needed: str, given: object) -> None:
    """InvalidInput (exit 2) when `option`, which only applies with `needed`, comes without it:
    refused rather than silently ignored."""
    if _given(value) and not _given(given):
        raise InvalidInput(f"{option} only applies with {needed}: add {needed} or leave "
                           f"{option} out")


FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="table for people, json for scripts.")
]


def cli_actor() -> Actor:
    """The person at the terminal: $CONNMODEL_ACTOR or the OS user, as a local admin."""
    return Actor(os.environ.get("CONNMODEL_ACTOR") or getpass.getuser(), Role.ADMIN)


@contextmanager
def store(database: str | None, *, create: bool = False) -> Iterator[Session]:
    """A session on the store. A SQLite file that does not exist is refused unless `create`
    (init): for any other command it is a typo, and opening it would leave an empty file."""
    if not create:
        require_existing(database)
    with session(database) as s:
        yield s


def proven_keyring(database: str | None) -> "KeyRing":
    """The key ring, proven against the database before a command asks for, sends or writes a
    secret: a wrong key fails with one clear line and changes nothing. The check is its own short
    transaction, so no lock is held while a prompt waits or a worker runs."""
    from connmodel.services.keys import checked_keyring  # cryptography: only commands with secrets

    with store(database) as s:
        keyring = checked_keyring(s)
        s.commit()  # the first check on a database writes the key-check token
    return keyring


def read_secret(prompt: str, *, confirm: bool = False) -> str:
    """A secret typed at the terminal without echo (twice with `confirm`: a new password), or
    the first line of piped input (`echo KEY | connmodel update-key 5`, as the docs show):
    getpass then warned, on every run, that it could not hide what nobody types. The prompt
    goes to stderr either way (a process feeding the key may wait for it)."""
    if not sys.stdin.isatty():
        return _piped_answer(f"{prompt}: ")
    return str(typer.prompt(prompt, hide_input=True, default="", show_default=False, err=True,
                            confirmation_prompt=confirm))


def confirmed(question: str) -> bool:
    """Ask `question` on stderr, so that stdout holds the command's result alone (-f json).

    At a terminal typer.confirm(err=True), whose prompt's last space input() writes to stdout,
    where the terminal shows it; piped, the answer is read without it."""
    if sys.stdin.isatty():
        return typer.confirm(question, default=False, err=True)  # the answer is echoed
    answer = _piped_answer(f"{question} [y/N]: ")
    return answer.strip().lower() in ("y", "yes")


def _piped_answer(prompt: str) -> str:
    """The first line of piped input after `prompt` on stderr, then the line's end there too
    (nothing echoes a piped answer: what follows would join the prompt's line). No answer (end
    of input) is typer.Abort, as a prompt's."""
    typer.echo(prompt, nl=False, err=True)
    line = sys.stdin.readline()
    typer.echo(err=True)
    if not line:
        raise typer.Abort
    return line.rstrip("\r\n")


def jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return jsonable(dataclasses.asdict(data))
    if isinstance(data, datetime):
        return data.isoformat()
    if isinstance(data, list | tuple):
        return [jsonable(d) for d in data]
    if isinstance(data, dict):
        return {k: jsonable(v) for k, v in data.items()}
    return data


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def emit_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from connmodel.cli.tables import print_table  # rich, only when a table is printed

    print_table(title, columns, rows)


LimitOpt = Annotated[int, typer.Option("--limit", "-n", help="Rows per page (1-500).")]
AfterOpt = Annotated[
    str | None,
    typer.Option("--after", help="Start after this cursor (the next_cursor of the previous page).",
                 show_default=False),
]


def page_json(page: Page[Any]) -> dict[str, Any]:
    """The one JSON shape of every paged listing."""
    return {"items": page.items, "next_cursor": page.next_cursor, "total": page.total,
            "total_exact": page.total_exact}


def page_footer(page: Page[Any], noun: str) -> str:
    """'3 of 3 connections', or 'first 50 of at least 10,000 connections; next page: --after X'."""
    total = f"{page.total:,}" if page.total_exact else f"at least {COUNT_CAP:,}"
    line = f"{len(page.items):,} shown of {total} {noun}"
    if page.next_cursor:
        line += f"; next page: --after {page.next_cursor}"
    return line


def emit_page(page: Page[Any], fmt: Format, noun: str, columns: Sequence[str],
              row: Any) -> None:
    """A paged listing as JSON (page_json) or as a table with its count and next cursor."""
    if fmt is Format.JSON:
        emit_json(page_json(page))
        return
    emit_table(None, columns, [row(item) for item in page.items])
    typer.echo(page_footer(page, noun))
