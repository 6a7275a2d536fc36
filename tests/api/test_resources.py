"""Every resource of /api/v1 and every error status, through HTTP against `connmodel api`, on
SQLite and PostgreSQL (the demo store)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import jsonschema
from sqlalchemy import select, update

from api.running import start_api, stop
from connmodel.audit.schema import REPORT_SCHEMA
from connmodel.models import ApiToken, AuditEvent, Connection, utcnow
from connmodel.permissions import Actor, Role
from connmodel.services.tokens import add_token, revoke_token
from connmodel.store import session

PROBLEM = "application/problem+json"
ROUTES_404 = "no such path in this API: see /docs for its routes"
ROUTES_405 = "this path does not take that method: see /docs for its routes"
UNKNOWN_TOKEN = ("unknown API token: check it was copied whole, or ask an admin for a new "
                 "one (connmodel token add)")


def problem(response: httpx.Response, status: int) -> str:
    """The problem's detail, after checking it is an RFC 9457 problem with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body["detail"]


def events(url: str, after: int = 0, **where) -> list[AuditEvent]:
    with session(url) as s:
        stmt = select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(s.scalars(stmt))


def last_event(url: str) -> int:
    return max(e.id for e in events(url))


def test_reads_profiles_connections_servers_events_and_the_audit_report(api):
    with api.client("read") as c:
        profiles = c.get("/profiles").json()
        assert profiles["total"] == len(profiles["items"]) >= 5 and profiles["total_exact"]
        noauth = next(p for p in profiles["items"] if p["name"] == "Noauth")
        assert noauth["counts"] == {"Active": 1, "Inactive": 0, "Error": 0}
        assert noauth["provider_kind"] == "none"

        first = c.get("/connections", params={"limit": 2, "sort": "-account"}).json()
        assert set(first) == {"items", "next_cursor", "total", "total_exact"}
        seen = [i["id"] for i in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = c.get("/connections", params={"limit": 2, "sort": "-account",
                                                 "cursor": cursor}).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)) == first["total"]
        errors = c.get("/connections", params={"status": "error"}).json()
        assert [i["status"] for i in errors["items"]] == ["Error"] * errors["total"]
        assert errors["items"][0]["hint"] == "Re-authenticate or check credentials"
        found = c.get("/connections", params={"search": "ci-bot"}).json()["items"]
        assert [i["account"] for i in found] == ["ci-bot@example.com"]
        hubspot = c.get("/connections", params={"profile": "Hubspot"}).json()["items"]

        view = c.get(f"/connections/{hubspot[0]['id']}")
        assert view.status_code == 200
        detail = view.json()
        assert detail["config"]["credential"].startswith("••••")
        assert [s["name"] for s in detail["mcp_servers"]] == ["Hubspot CRM"]
        assert "credential_enc" not in view.text and "hub-" not in view.text.lower()

        servers = c.get("/servers", params={"limit": 3}).json()
        assert len(servers["items"]) == 3 and servers["next_cursor"]
        rest = c.get("/servers", params={"cursor": servers["next_cursor"]}).json()
        assert servers["total"] == 3 + len(rest["items"])
        assert c.get("/servers/Calculator").json()["profile"] == "Noauth"
        off = c.get("/servers", params={"state": "disconnected"}).json()  # the demo's disabled
        assert [(s["name"], s["reason"]) for s in off["items"]] == [  # connection's server
            ("Calendar", "connection 6 disabled by admin; enable it to reconnect")]

        trail = c.get("/events", params={"limit": 1}).json()
        older = c.get("/events", params={"limit": 1, "cursor": trail["next_cursor"]}).json()
        assert older["items"][0]["id"] < trail["items"][0]["id"]
        assert c.get("/events", params={"action": "token.add"}).json()["total"] == 4

        report = c.get("/audit", params={"days": 7, "fail_on": "error"}).json()
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["schema"] == "connmodel.audit/1" and report["failing"] == ["error"]


def test_every_error_is_a_problem_with_its_status(api):
    with api.client("admin") as c:
        assert "no connection with id 424242" in problem(c.get("/connections/424242"), 404)
        assert "no server named" in problem(c.get("/servers/Nope"), 404)
        assert "no profile named" in problem(c.get("/connections", params={"profile": "Nope"}),
                                            404)
        # the servers listing answered an empty page for it, as if the profile had none
        assert "no profile named 'Nope'" in problem(c.get("/servers",
                                                          params={"profile": "Nope"}), 404)
        assert "malformed cursor" in problem(c.get("/connections", params={"cursor": "x!"}), 422)
        assert "unknown status" in problem(c.get("/connections", params={"status": "Gone"}), 422)
        assert "unknown sort field" in problem(c.get("/connections", params={"sort": "pw"}), 422)
        assert "unknown sort field '-id'" in problem(c.get("/connections",  # was -id
                                                           params={"sort": "--id"}), 422)
        assert "limit" in problem(c.get("/connections", params={"limit": 0}), 422)
        assert "connection_id" in problem(c.get("/connections/abc"), 422)
        assert "profile" in problem(c.post("/servers/Calculator/reconfigure", json={}), 422)
        big = c.post("/credentials", content=b'{"server": "' + b"x" * 70_000 + b'"}',
                     headers={"content-type": "application/json"})
        assert big.status_code == 413 and big.headers["content-type"] == PROBLEM
    with api.client(None) as anonymous:
        assert "no API token" in problem(anonymous.get("/connections"), 401)
        assert problem(anonymous.get("/connections", headers={"Authorization": "Bearer nope"}),
                       401) == UNKNOWN_TOKEN
    with session(api.database_url) as s:
        s.execute(update(ApiToken).where(ApiToken.name == "expiring-token")
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    with api.client("expiring") as c:
        assert "'expiring-token' is expired" in problem(c.get("/profiles"), 401)
    refused = events(api.database_url, actor="token:expiring-token", action="denied")
    assert [e.outcome for e in refused] == ["refused: token expired"]


def test_the_broker_checks_its_token_in_its_own_session_as_every_route_does(api):
    """The broker route checks its token in the session of its service (calls.brokered): no
    token is 401 before the body is read, an unknown one 401, and a revoked one is refused from
    its next request on, with an audit event naming it."""
    admin = Actor("alice", Role.ADMIN)
    with session(api.database_url) as s:
        token = add_token(s, actor=admin, name="gateway-b", scope="broker")
    gateway = httpx.Client(base_url=api.url + "/api/v1", timeout=30,
                           headers={"Authorization": f"Bearer {token}"})
    with gateway, api.client(None) as anonymous:
        assert gateway.post("/credentials", json={"server": "Calculator"}).status_code == 200
        assert "no API token" in problem(anonymous.post("/credentials", json={}), 401)
        assert problem(anonymous.post("/credentials", json={"server": "Calculator"},
                                      headers={"Authorization": "Bearer nope"}),
                       401) == UNKNOWN_TOKEN
        with session(api.database_url) as s:
            revoke_token(s, actor=admin, name="gateway-b")
        assert "'gateway-b' is revoked" in problem(
            gateway.post("/credentials", json={"server": "Calculator"}), 401)
    refused = events(api.database_url, actor="token:gateway-b", action="denied")
    assert [e.outcome for e in refused] == ["refused: token revoked"]


def test_scopes_are_checked_by_the_services_and_refusals_audited(api):
    before = last_event(api.database_url)
    live = api.client("read").get("/connections", params={"limit": 1}).json()["items"][0]
    with api.client("read") as c:
        assert "may not write" in problem(c.post(f"/connections/{live['id']}/revoke"), 403)
        assert "may not write" in problem(c.post(f"/connections/{live['id']}/disable"), 403)
        assert "may not broker" in problem(c.post("/credentials", json={"server": "Calculator"}),
                                          403)
    with api.client("broker") as c:
        assert "may not read" in problem(c.get("/connections"), 403)
    with api.client("admin") as c:
        assert "may not broker" in problem(c.post("/credentials", json={"server": "Calculator"}),
                                          403)
        assert c.get(f"/connections/{live['id']}").status_code == 200  # nothing changed
    denied = events(api.database_url, before, action="denied")
    assert [(e.actor, e.target) for e in denied] == [
        ("token:read-token", "revoke_connection"), ("token:read-token", "disable_connection"),
        ("token:read-token", "credential_for"), ("token:broker-token", "list_connections"),
        ("token:admin-token", "credential_for")]


def test_revoke_is_idempotent_under_twenty_concurrent_requests(api):
    before = last_event(api.database_url)
    with api.client("admin") as c:
        target = c.get("/connections", params={"profile": "Hubspot Sandbox"}
                       ).json()["items"][0]["id"]

        def revoke(_: int) -> httpx.Response:
            with api.client("admin") as mine:
                return mine.post(f"/connections/{target}/revoke")

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(revoke, range(20)))
        assert sorted(a.status_code for a in answers) == [200] + [409] * 19
        done = next(a.json() for a in answers if a.status_code == 200)
        assert done["disconnected_servers"] == ["Hubspot Sandbox CRM"]
        detail = problem(next(a for a in answers if a.status_code == 409), 409)
        assert f"connection {target} was already revoked by token:admin-token at " in detail
        assert "already revoked by token:admin-token" in problem(
            c.get(f"/connections/{target}"), 409)
        assert c.get("/servers/Hubspot Sandbox CRM").json()["state"] == "disconnected"
    revokes = events(api.database_url, before, action="revoke")
    assert [(e.actor, e.target.split(" (")[0]) for e in revokes] == [
        ("token:admin-token", f"connection {target}")]


def test_disable_enable_refresh_and_reconfigure(api):
    before = last_event(api.database_url)
    with api.client("admin") as c:
        hub = c.get("/connections", params={"profile": "Hubspot"}).json()["items"][0]["id"]
        off = c.post(f"/connections/{hub}/disable")
        assert off.status_code == 200 and off.json()["status"] == "Inactive"
        assert off.json()["servers"] == ["Hubspot CRM"]
        assert "already disabled" in problem(c.post(f"/connections/{hub}/disable"), 409)
        on = c.post(f"/connections/{hub}/enable").json()
        assert (on["status"], on["servers"]) == ("Active", ["Hubspot CRM"])
        assert "is not disabled" in problem(c.post(f"/connections/{hub}/enable"), 409)
        assert "kind oauth2" in problem(c.post(f"/connections/{hub}/refresh"), 422)
        google = c.get("/connections", params={"profile": "Google"}).json()["items"][0]["id"]
        refreshed = c.post(f"/connections/{google}/refresh")  # its provider is not reachable
        assert refreshed.status_code == 200 and refreshed.json()["result"] == "unreachable"

        c.post(f"/connections/{hub}/revoke")
        assert c.get("/servers/Hubspot CRM").json()["state"] == "disconnected"
        back = c.post("/servers/Hubspot CRM/reconfigure", json={"profile": "Noauth"})
        assert back.status_code == 200
        assert (back.json()["state"], back.json()["profile"]) == ("connected", "Noauth")
        assert "no live connection" in problem(
            c.post("/servers/Calculator/reconfigure", json={"profile": "Hubspot"}), 409)
    actions = [e.action for e in events(api.database_url, before, actor="token:admin-token")]
    assert actions == ["connection.disable", "connection.enable", "revoke",
                       "server.reconfigure"]


def test_an_oversized_body_is_413_whether_its_length_is_declared_or_chunked(api):
    """A chunked body (no Content-Length) over the cap was FastAPI's 400 "There was an error
    parsing the body" on every FastAPI route; only a declared length got 413."""
    big = b'{"ids": [' + b"1, " * 30_000 + b'1]}'

    def chunked():
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]

    json = {"content-type": "application/json"}
    with api.client("admin") as c:
        for path in ("/connections/revoke", "/servers/Drive/reconfigure", "/credentials"):
            for body in (big, chunked()):
                detail = problem(c.post(path, content=body, headers=json), 413)
                assert detail == "the request body is over 65,536 bytes", path


def test_an_unreachable_database_is_503(tmp_path):
    process, url = start_api("postgresql://postgres@127.0.0.1:9/none", tmp_path / "api.log")
    try:
        answer = httpx.get(url + "/api/v1/connections", headers={"Authorization": "Bearer x"})
        assert "cannot use the database" in problem(answer, 503)
        assert "Bearer x" not in (tmp_path / "api.log").read_text()
    finally:
        stop(process)


def test_openapi_and_docs_are_served(api):
    doc = httpx.get(api.url + "/openapi.json").json()
    assert {"/api/v1/connections", "/api/v1/credentials", "/api/v1/audit"} <= set(doc["paths"])
    revoke = doc["paths"]["/api/v1/connections/{connection_id}/revoke"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422", "503"} <= set(revoke)
    assert PROBLEM in revoke["409"]["content"]
    assert httpx.get(api.url + "/docs").status_code == 200


def test_the_connection_row_never_leaves_unmasked(api):
    with session(api.database_url) as s:
        enc = s.scalars(select(Connection.credential_enc)
                        .where(Connection.credential_enc.is_not(None))).first()
    with api.client("admin") as c:
        texts = [c.get(f"/connections/{i['id']}").text
                 for i in c.get("/connections").json()["items"]]
    assert enc and not any(enc in t for t in texts)


def test_bulk_revoke_by_ids_or_filter_with_a_dry_run(api):
    with api.client("admin") as c:
        errors = c.get("/connections", params={"status": "Error"}).json()
        dry = c.post("/connections/revoke", json={"filter": {"status": "Error"}, "dry_run": True})
        assert dry.status_code == 200, dry.text
        assert (dry.json()["count"], dry.json()["servers"]) == (errors["total"],
                                                               ["GitHub Issues"])
        assert c.get("/connections", params={"status": "Error"}).json()["total"] == 1
        assert "either ids or filter" in problem(c.post("/connections/revoke", json={}), 422)
        assert "at least one of" in problem(c.post("/connections/revoke",
                                                   json={"filter": {"status": " "}}), 422)
        assert "no connection with id 999999" in problem(
            c.post("/connections/revoke", json={"ids": [errors["items"][0]["id"], 999999]}), 404)
        assert c.get("/connections", params={"status": "Error"}).json()["total"] == 1
        done = c.post("/connections/revoke", json={"filter": {"status": "Error"}}).json()
        assert (done["count"], done["revoked"]) == (1, [errors["items"][0]["id"]])
        assert done["summary"].startswith("Revoked 1 connection.")
        assert c.get("/connections", params={"status": "Error"}).json()["total"] == 0
        google = c.get("/connections", params={"profile": "Google Dev"}).json()["items"][0]["id"]
        dry_ids = c.post("/connections/revoke", json={"ids": [google], "dry_run": True}).json()
        assert (dry_ids["count"], dry_ids["servers"]) == (1, ["Calendar"])
        by_ids = c.post("/connections/revoke", json={"ids": [google, google]}).json()
        assert (by_ids["revoked"], by_ids["servers"]) == ([google], ["Calendar"])
        # A dry run answers as the revoke would: it said "would revoke 1" for an unknown id and
        # "would revoke 3" for three already revoked (the revoke: 404, and "0; 3 already").
        assert "no connection with id 999999" in problem(c.post(
            "/connections/revoke", json={"ids": [google, 999999], "dry_run": True}), 404)
        live = next(i["id"] for i in c.get("/connections").json()["items"])  # the module's
        alone = c.post("/connections/revoke", json={"ids": [live], "dry_run": True}).json()
        again = c.post("/connections/revoke",
                       json={"ids": [google, live], "dry_run": True}).json()
        assert (again["count"], again["already_revoked"], again["servers"], again["summary"]) \
            == (1, 1, alone["servers"], "would revoke 1; 1 already revoked")
    with api.client("read") as c:
        assert "may not write" in problem(c.post("/connections/revoke",
                                                 json={"ids": [google]}), 403)


def test_a_misspelt_body_field_is_refused_not_ignored(api):
    """A script's typo must not widen a write: `dryrun` for `dry_run` revoked for real, and a
    misspelt filter field (`profil`) revoked all the rest of the filter matched. Every body
    refuses a field it does not know (422, naming it), and nothing changes."""
    with api.client("admin") as c:
        live = c.get("/connections").json()["total"]
        dry = c.post("/connections/revoke", json={"filter": {"search": "e"}, "dry_run": True})
        assert dry.json()["count"] >= 1
        for body, field in (({"filter": {"search": "e"}, "dryrun": True}, "dryrun"),
                            ({"filter": {"search": "e", "profil": "Noauth"}}, "filter.profil"),
                            ({"ids": [1], "dry-run": True}, "dry-run")):
            detail = problem(c.post("/connections/revoke", json=body), 422)
            assert detail.startswith(f"{field}: unknown field"), detail
        assert c.get("/connections").json()["total"] == live
        assert "unknown field" in problem(c.post("/servers/Calculator/reconfigure",
                                                 json={"profile": "Noauth", "force": True}), 422)
    with api.client("broker") as c:
        assert "unknown field" in problem(c.post("/credentials",
                                                 json={"server": "Calculator", "x": 1}), 422)


def test_a_missing_or_broken_body_says_what_to_send(api):
    """FastAPI's own words were "request: Field required" and "25: JSON decode error"."""
    with api.client("admin") as c:
        for content, headers in ((b"", {}), (b"{}", {"content-type": "text/plain"})):
            detail = problem(c.post("/connections/revoke", content=content, headers=headers), 422)
            assert detail.startswith("the request needs a JSON object body"), detail
        detail = problem(c.post("/connections/revoke", content=b'{"ids": [1]',
                                headers={"content-type": "application/json"}), 422)
        assert detail.startswith("the request body is not valid JSON"), detail
    with api.client("broker") as c:
        detail = problem(c.post("/credentials", content=b""), 422)
        assert detail.startswith("the request body is not valid JSON"), detail


def test_an_unknown_path_or_method_says_where_the_routes_are(api):
    """Starlette's own details were the bare "Not Found" and "Method Not Allowed"."""
    with api.client("admin") as c:
        assert problem(c.get("/connection"), 404) == ROUTES_404
        assert problem(c.delete("/connections/1"), 405) == ROUTES_405
        assert problem(c.get("/credentials"), 405) == ROUTES_405


def test_a_query_parameter_given_twice_is_refused(api):
    """`?status=Error&status=Active` listed the Active ones: the last silently won, where a
    script may have meant either, or both."""
    with api.client("admin") as c:
        for path, query in (("/connections", "status=Error&status=Active"),
                            ("/events", "limit=1&limit=2"), ("/servers", "profile=a&profile=")):
            detail = problem(c.get(f"{path}?{query}"), 422)
            assert detail.startswith(f"query parameter {query.split('=')[0]!r} is given 2 "
                                     "times: give it once"), detail


def test_a_nul_in_any_text_is_refused_on_both_stores(api):
    """SQLite reads a NUL as the end of a LIKE pattern or an FTS query: `{"profile": "\\u0000"}`
    matched every profile (a revoke by it revoked every live connection), a search for "\\x00"
    listed everything and `target=x\\x00` was a 503. PostgreSQL refused them all (422)."""
    with api.client("admin") as c:
        live = c.get("/connections").json()["total"]
        for path, params in (("/profiles", {"search": "\x00"}), ("/servers", {"search": "\x00"}),
                             ("/events", {"target": "x\x00"}), ("/events", {"actor": "\x00"}),
                             ("/connections", {"profile": "\x00"}), ("/servers/Calc%00", {})):
            assert "NUL" in problem(c.get(path, params=params), 422), (path, params)
        for dry_run in (True, False):
            assert "NUL" in problem(c.post("/connections/revoke", json={
                "filter": {"profile": "\x00"}, "dry_run": dry_run}), 422)
        assert "NUL" in problem(c.post("/servers/Calculator/reconfigure",
                                       json={"profile": "Noauth\x00"}), 422)
        assert c.get("/connections").json()["total"] == live


def test_a_revoked_token_writes_nothing_from_its_next_request(api):
    """Issue 16 for the API: authorization follows the token as the store has it now. A token
    that wrote a moment ago is refused (401, audited, nothing changed) once an admin revokes
    it; the API process is not restarted."""
    from connmodel.permissions import Actor, Role
    from connmodel.services.tokens import add_token, revoke_token

    with session(api.database_url) as s:
        token = add_token(s, actor=Actor("alice", Role.ADMIN), name="leaving-token",
                          scope="admin")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api.url + "/api/v1", headers=headers, timeout=30) as c:
        first, second = [r["id"] for r in c.get("/connections", params={"limit": 2}).json()
                         ["items"]]
        assert c.post(f"/connections/{first}/revoke").status_code == 200
        with session(api.database_url) as s:
            revoke_token(s, actor=Actor("alice", Role.ADMIN), name="leaving-token")
        assert "'leaving-token' is revoked" in problem(c.post(f"/connections/{second}/revoke"),
                                                       401)
    with session(api.database_url) as s:
        live = s.execute(select(Connection.revoked_at).where(Connection.id == second)).scalar_one()
    assert live is None
    refused = events(api.database_url, actor="token:leaving-token", action="denied")
    assert [e.outcome for e in refused] == ["refused: token revoked"]
