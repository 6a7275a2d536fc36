"""Served dashboards for the security tests, with hostile text in every user-controlled field.

The server is `tests/ui/conftest.py`'s `start_dashboard` (loaded from its file: conftest modules
are not importable by name), over the demo data plus markup in profile names, descriptions,
accounts, status reasons, server names, a (valid) server URL and audit actors and targets. Its
stderr goes to a log file, which the secret scan reads. `hardened_dashboard` is the same data
served as `make run` serves it (dashboard/serve.py: sign-in, security headers), with an admin.
"""

import importlib.util
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from servers import free_port, serving

from connmodel.models import Connection, McpServer, Profile, ProviderConfig
from connmodel.permissions import Actor, Role
from connmodel.services import users
from connmodel.services.events import record
from connmodel.store import get_engine, session

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'
XSS_URL = 'https://xss.example/"><script>alert(1)</script>'
PAYLOADS = (IMG, SCRIPT)

_spec = importlib.util.spec_from_file_location(
    "ui_serving", Path(__file__).resolve().parents[1] / "ui" / "conftest.py")
assert _spec is not None and _spec.loader is not None
ui_serving = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ui_serving)


@dataclass(frozen=True)
class HostileDashboard:
    url: str
    database_url: str
    log: Path

    def page_url(self, query: str = "") -> str:
        return f"{self.url}/app{query}"


ADMIN_NAME = "ann"
ADMIN_PASSWORD = "csp tests correct horse"


def add_hostile_data(database_url: str) -> None:
    """Markup in every field a person can type, written past the services' name checks."""
    from sqlmodel import select

    with session(database_url) as s:
        provider = s.exec(select(ProviderConfig).where(ProviderConfig.kind == "none")).first()
        assert provider is not None
        profile = Profile(name=SCRIPT, environment="dev", provider_config_id=provider.id,
                          description=IMG)
        s.add(profile)
        s.flush()
        s.add(Connection(profile_id=profile.id, service="No Authentication Provider",
                         account=IMG, status="Error", status_reason=SCRIPT))
        s.add(McpServer(name=IMG, url=XSS_URL, profile_id=profile.id, state="disconnected",
                        reason=SCRIPT))
        record(s, actor=Actor(IMG, Role.ADMIN), action="revoke", target=SCRIPT, outcome=IMG)
        record(s, actor=Actor(SCRIPT, Role.ADMIN), action="server.add",
               target=f"server {IMG} ({XSS_URL})")
        s.commit()
    get_engine(database_url).dispose()


@pytest.fixture(scope="module")
def hostile_dashboard(tmp_path_factory) -> Iterator[HostileDashboard]:
    """The demo dashboard plus hostile text, served once per module, logging to a file."""
    folder = tmp_path_factory.mktemp("security")
    log = folder / "server.log"
    with ui_serving.start_dashboard(folder, log=log) as served:
        ui_serving.add_markup_profile(served.database_url)
        add_hostile_data(served.database_url)
        yield HostileDashboard(served.url, served.database_url, log)


@pytest.fixture(scope="module")
def hardened_dashboard(tmp_path_factory) -> Iterator[HostileDashboard]:
    """The hostile data served through dashboard/serve.py with local sign-in; admin ADMIN_NAME."""
    folder = tmp_path_factory.mktemp("hardened")
    log = folder / "server.log"
    with ui_serving.start_dashboard(folder, log=log, local_users=True) as served:
        ui_serving.add_markup_profile(served.database_url)
        add_hostile_data(served.database_url)
        with session(served.database_url) as s:
            users.add_user(s, actor=Actor("setup", Role.ADMIN), name=ADMIN_NAME, role="admin",
                           password=ADMIN_PASSWORD)
        get_engine(served.database_url).dispose()
        yield HostileDashboard(served.url, served.database_url, log)


@pytest.fixture(scope="module")
def oidc_dashboard_without_provider(tmp_path_factory) -> Iterator[str]:
    """dashboard/serve.py in OIDC mode whose provider's port is closed: every sign-in fails.

    That is how Panel's OAuth error page is reached (its token request is refused); its logout
    page is there too. Yields the base URL.
    """
    folder = tmp_path_factory.mktemp("oidc")
    port, closed = free_port(), free_port()
    base, provider = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{closed}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANEL_", "CONNMODEL_"))}
    env |= {
        "CONNMODEL_DATABASE_URL": f"sqlite:///{folder / 'connmodel.db'}",
        "CONNMODEL_KEY_FILE": str(folder / "connmodel.key"),
        "PANEL_OAUTH_KEY": "connmodel-tests",
        "PANEL_OAUTH_AUTHORIZE_URL": f"{provider}/authorize",
        "PANEL_OAUTH_TOKEN_URL": f"{provider}/token",
        "PANEL_OAUTH_USER_URL": f"{provider}/userinfo",
        "PANEL_OAUTH_SCOPE": "openid email",
        "PANEL_OAUTH_REDIRECT_URI": f"{base}/login",
        "PANEL_OAUTH_ENCRYPTION": Fernet.generate_key().decode(),
        "PANEL_COOKIE_SECRET": secrets.token_urlsafe(32),
    }
    command = [sys.executable, str(ui_serving.ROOT / "dashboard" / "serve.py"), "--auth", "oidc",
               "--port", str(port)]
    with serving(command, port=port, log=folder / "dashboard.log", env=env, cwd=folder,
                 ready_url=f"{base}/logout"):
        yield base
