"""The built wheel, installed into a fresh virtual environment outside the repository, gives
every feature: the schema (migrations), the demo, the notebooks, and the dashboard.

The wheel is built from a copy of the sources (setuptools' build/ folder in a checkout can hold
files deleted since); its dependencies come from pip's warm cache. One install serves every test
of the module, and the dashboard starts while a notebook runs, to keep the module near a minute.
"""

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from servers import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "connmodel", "dashboard")

pytestmark = pytest.mark.timeout(600)


def _run(*args: str | Path, env: dict[str, str], cwd: Path,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """(the fresh venv's bin folder, an environment without the checkout, a work folder)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "CONNMODEL_SECRET_KEY"}}
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", base / "dist", src,
         env=env, cwd=base)
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, env=env, cwd=base)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
         "--no-compile", "--find-links", base / "dist", "connmodel", env=env, cwd=base)
    work = base / "work"
    work.mkdir()
    env |= {"CONNMODEL_DATABASE_URL": f"sqlite:///{work / 'connmodel.db'}",
            "CONNMODEL_KEY_FILE": str(work / "connmodel.key")}
    yield venv / "bin", env, work


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    bin_, env, work = installed
    where = _run(bin_ / "python", "-c", "import connmodel, dashboard; "
                 "print(connmodel.__file__); print(dashboard.__file__)", env=env, cwd=work)
    for line in where.stdout.splitlines():
        assert line.startswith(str(bin_.parent)), line
    assert _run(bin_ / "connmodel", "--version", env=env, cwd=work).stdout == \
        f"connmodel {version('connmodel')}\n"


def test_init_demo_notebook_and_serve(installed):
    bin_, env, work = installed
    assert "database ready" in _run(bin_ / "connmodel", "init", env=env, cwd=work).stdout
    assert "6 profiles added" in _run(bin_ / "connmodel", "demo", env=env, cwd=work).stdout
    port = free_port()
    command = [str(bin_ / "connmodel"), "serve", "--port", str(port), "--no-auth-on-loopback"]
    with serving(command, port=port, log=work / "serve.log", env=env, cwd=work, ready_url=None):
        report = work / "errors.html"
        _run(bin_ / "connmodel", "audit", "--notebook", "errors_and_expiry", "-o", report,
             env=env, cwd=work)
        assert "GitHub Staging" in report.read_text()  # the demo's Error connection
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/app", timeout=120) as page:
            assert page.status == 200
            assert "MCP Gateway" in page.read().decode()


def test_serve_keeps_the_dashboards_safety_checks(installed):
    bin_, env, work = installed
    refused = subprocess.run([bin_ / "connmodel", "serve", "--host", "0.0.0.0"], env=env,
                             cwd=work, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1
    assert "refusing to serve 0.0.0.0 without PANEL_COOKIE_SECRET" in refused.stderr
