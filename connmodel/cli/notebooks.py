"""`connmodel notebooks`: where the shipped notebooks are, and copies of them to open in Jupyter.

The notebooks are package data; opening them in place would write into site-packages, so people
explore copies (`--copy-to DIR`). `connmodel audit --notebook NAME` runs the shipped ones.
"""

import shutil
from importlib.resources import as_file
from pathlib import Path
from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.errors import InvalidInput


@app.command()
def notebooks(
    copy_to: Annotated[Path | None, typer.Option(
        "--copy-to", help="Copy the notebooks into this folder, made if missing (never over "
                          "a file there).",
        show_default=False, file_okay=False)] = None,
) -> None:
    """List the notebooks shipped with connmodel, or copy them to a folder to open in Jupyter."""
    from connmodel.audit.notebooks import available, find_notebook

    names = available()
    if copy_to is None:
        for name in names:
            with as_file(find_notebook(name)) as path:
                typer.echo(f"{name}\t{path}")
        return
    try:  # made when missing: the README's `--copy-to ~/notebooks` on a fresh machine
        copy_to.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot make the folder {copy_to}: {exc.strerror}") from None
    clashes = [f"{n}.ipynb" for n in names if (copy_to / f"{n}.ipynb").exists()]
    if clashes:
        raise InvalidInput(f"not copied: {', '.join(clashes)} already in {copy_to}")
    for name in names:
        with as_file(find_notebook(name)) as path:
            shutil.copyfile(path, copy_to / path.name)
    typer.echo(f"copied {len(names)} notebooks to {copy_to}: jupyter lab {copy_to}")
