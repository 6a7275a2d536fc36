"""`connmodel provider add` and `connmodel profile add` on both stores."""


def test_add_provider_then_profile(store_url, cli):
    api = "API Key Authentication Provider"
    added = cli("provider", "add", api, "--kind", "api_key", "-d", store_url)
    assert added.out == f"provider config {api} added (api_key)\n"
    none = cli("provider", "add", "No Authentication Provider", "--kind", "none", "-d", store_url,
               "-f", "json").json
    assert (none["name"], none["kind"]) == ("No Authentication Provider", "none")
    again = cli("provider", "add", api, "--kind", "none", "-d", store_url).one_line_error()
    assert again == f"connmodel: error: a provider config named '{api}' exists"

    result = cli("profile", "add", "Hubspot", "--provider", api, "--environment", "production",
                 "--description", "CRM tools", "-d", store_url)
    assert result.out == f"profile Hubspot added (production, {api})\n"
    cli("profile", "add", "Noauth", "--provider", "No Authentication Provider", "-d", store_url)
    cards = {c["name"]: c for c in cli("profiles", "-d", store_url, "-f", "json").json["items"]}
    assert cards["Hubspot"] | {"connections": None} == {
        "name": "Hubspot", "description": "CRM tools", "environment": "production",
        "provider": api, "provider_kind": "api_key", "total": 0,
        "counts": {"Active": 0, "Inactive": 0, "Error": 0}, "connections": None}
    assert cards["Noauth"]["description"] == "Connections in this profile"
    assert cards["Noauth"]["environment"] == "dev"
    assert list(cards) == ["Hubspot", "Noauth"]
    assert "0 connections" in cli("profiles", "-d", store_url, "-e", "production").out
    events = cli("events", "-d", store_url, "-f", "json", "--actor", "alice").json["items"]
    assert [e["action"] for e in events] == ["profile.create", "profile.create",
                                             "provider.create", "provider.create"]
