"""Run an audit notebook with papermill and turn the executed notebook into one HTML file.

The notebooks are package data (`connmodel/notebooks/`), found with importlib.resources, so
`--notebook` works the same from a source checkout and from an installed wheel.
The database URL reaches the kernel through CONNMODEL_DATABASE_URL, never as a papermill
parameter: parameters are written into the executed notebook, and a URL may hold a password.
"""

import base64
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, distribution
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

from connmodel.errors import ConnModelError, InvalidInput

NOTEBOOKS = files("connmodel.notebooks")
TIMEOUT_S = 300
# Shipped notebooks made for JupyterLab, not for `audit --notebook`: their Panel widgets call
# back into a live kernel, which a static HTML page has not.
INTERACTIVE = frozenset({"explore_connections"})

# Run by the kernel before the notebook's first cell (IPython's `exec_lines`): every BokehJS,
# HoloViews and Panel loader the notebook outputs then carries its JavaScript inline instead of
# a <script src> on cdn.bokeh.org / cdn.holoviz.org. See `run_to_html` for why this way.
INLINE_RESOURCES = ("import os; os.environ['PANEL_INLINE'] = 'true'; "
                    "import holoviews.ipython; holoviews.ipython.notebook_extension.inline = True")

# nbconvert's "lab" page, less the three scripts it loads from cdnjs (RequireJS, MathJax,
# Mermaid): the reports use none of them, and a page opened offline would only log failures.
OFFLINE_TEMPLATE = "connmodel_offline.html.j2"
OFFLINE_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


class NotebookFailed(ConnModelError):
    """The notebook ran but one of its cells raised."""

    exit_code = 2


def notebooks_dir() -> Traversable:
    """The shipped notebooks, or the folder CONNMODEL_NOTEBOOKS_DIR names (your own)."""
    own = os.environ.get("CONNMODEL_NOTEBOOKS_DIR")
    return Path(own) if own else NOTEBOOKS


def available() -> list[str]:
    folder = notebooks_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".ipynb") for p in folder.iterdir()
                  if p.name.endswith(".ipynb"))


def reports() -> list[str]:
    """The notebooks `connmodel audit --notebook` runs: the shipped ones but the interactive
    (INTERACTIVE), or every one of your own folder."""
    shipped = not os.environ.get("CONNMODEL_NOTEBOOKS_DIR")
    return [n for n in available() if not (shipped and n in INTERACTIVE)]


def find_notebook(name: str, *, report: bool = False) -> Traversable:
    """A notebook by name ('errors_and_expiry', with or without .ipynb) from the notebooks
    folder; with `report`, only one that runs as a report (`reports`)."""
    stem = name.strip().removesuffix(".ipynb")
    names = reports() if report else available()
    if stem in names:
        return notebooks_dir() / f"{stem}.ipynb"
    if report and stem in available():
        raise InvalidInput(f"{stem} is interactive (its widgets need a live kernel), not a report: "
                           "open it in JupyterLab (connmodel notebooks --copy-to DIR); reports: "
                           f"{', '.join(names)}")
    known = ", ".join(names) or f"none found in {notebooks_dir()}"
    raise InvalidInput(f"unknown notebook {name!r}: choose one of {known}")


@contextmanager
def _kernel_chatter_to(log: Path) -> Iterator[None]:
    """Send what the kernel writes to stderr (its start-up warnings) into a log file, so the
    command's own stderr keeps only the lines meant for the operator."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "w") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _declared(path: Path, parameters: dict[str, object]) -> dict[str, object]:
    """Those of `parameters` the notebook declares (papermill would inject the others as new,
    unused names), with `database_url` None: the kernel reads it from the environment."""
    import papermill

    names = papermill.inspect_notebook(str(path))
    return {"database_url": None, **{k: v for k, v in parameters.items() if k in names}}


def run_to_html(source: Traversable, *, database_url: str,
                parameters: dict[str, object]) -> str:
    """Execute the notebook in a fresh kernel and return it as one self-contained HTML page
    that opens offline, like `-f html` (the charts need no network).

    The JavaScript is inlined where it is produced, in the kernel: `hvplot.pandas` (or
    `hv.extension`, or `pn.extension`) outputs a loader that, by default, points at the CDN.
    The kernel starts with HoloViews' `notebook_extension.inline` on and `PANEL_INLINE` set
    (INLINE_RESOURCES, through ipykernel's documented `exec_lines` option), so that loader
    holds BokehJS, HoloViews' and Panel's scripts themselves. Chosen over the alternatives:
    - calling `hv.extension('bokeh', inline=True)` in each notebook: would miss your own
      notebooks (CONNMODEL_NOTEBOOKS_DIR), and the first `import hvplot.pandas` in a cell
      would already have sent the CDN loader;
    - rewriting the page afterwards (swapping CDN <script src> for inline scripts): depends on
      the exact markup of Panel's loader, which changes between releases.
    nbconvert's own CDN scripts (RequireJS, MathJax) are left out by OFFLINE_TEMPLATE.
    """
    import nbformat
    import papermill
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from papermill.exceptions import PapermillExecutionError

    previous = os.environ.get("CONNMODEL_DATABASE_URL")
    os.environ["CONNMODEL_DATABASE_URL"] = database_url
    try:
        with tempfile.TemporaryDirectory() as tmp, as_file(source) as path:
            executed = Path(tmp) / path.name
            try:
                with _kernel_chatter_to(Path(tmp) / "kernel.log"):
                    papermill.execute_notebook(
                        str(path), str(executed), parameters=_declared(path, parameters),
                        kernel_name="python3", progress_bar=False, log_output=False,
                        execution_timeout=TIMEOUT_S, cwd=tmp,
                        extra_arguments=[f"--IPKernelApp.exec_lines={INLINE_RESOURCES}"])
            except PapermillExecutionError as exc:
                raise NotebookFailed(f"notebook {path.stem} failed in cell {exc.exec_count}: "
                                     f"{exc.ename}: {exc.evalue}") from None
            notebook = nbformat.read(executed, as_version=4)  # type: ignore[no-untyped-call]
    finally:
        if previous is None:
            os.environ.pop("CONNMODEL_DATABASE_URL", None)
        else:
            os.environ["CONNMODEL_DATABASE_URL"] = previous
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab", template_file=OFFLINE_TEMPLATE,
        extra_loaders=[DictLoader({OFFLINE_TEMPLATE: OFFLINE_TEMPLATE_SOURCE})],
        embed_images=True, exclude_input_prompt=True, exclude_output_prompt=True)
    with warnings.catch_warnings():  # hvPlot's loader outputs have no mimetype nbconvert shows
        warnings.filterwarnings("ignore", "Your element with mimetype", UserWarning)
        body, _ = exporter.from_notebook_node(notebook)
    return _inline_panel_stylesheets(body)


def _inline_panel_stylesheets(page: str) -> str:
    """Panel's component stylesheets as data: URLs.

    In a notebook, Panel links each component's CSS (layout, loading spinner, theme) from
    cdn.holoviz.org whatever the inline setting: the resource mode it leaves for later cells is
    the CDN's. The same files ship inside the panel package, under the same dist/ path as on
    the CDN, so each link to one of them becomes a data: URL of the local file; a link to a
    file not found there is left as it is.
    """
    try:  # found through its metadata: connmodel/ never imports Panel
        panel = distribution("panel")
    except PackageNotFoundError:
        return page
    cdn = re.escape(f"https://cdn.holoviz.org/panel/{panel.version}/dist/")

    def local(match: re.Match[str]) -> str:
        parts = match.group(1).split("/")
        path = Path(str(panel.locate_file("/".join(["panel", "dist", *parts]))))
        if ".." in parts or not path.is_file():
            return match.group(0)
        return "data:text/css;base64," + base64.b64encode(path.read_bytes()).decode()

    return re.sub(cdn + r"([\w./-]+\.css)(?:\?v=[\w.]+)?", local, page)
