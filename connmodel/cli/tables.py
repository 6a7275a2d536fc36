"""Table output for people (rich), imported on the first table: JSON output never loads rich.

User text is never read as markup: '[bold]' in a profile name stays literally '[bold]'.
"""

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=False)


def cell(value: Any) -> Text:
    """A table cell as plain text."""
    if value is None:
        return Text("–", style="dim")
    if hasattr(value, "strftime"):
        return Text(value.strftime("%Y-%m-%d %H:%M"))
    return Text(str(value))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=Text(title) if title else None, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console.print(table)
