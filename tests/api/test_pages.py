"""A listing's JSON holds only the fields its response model declares (connmodel.api.pages)."""

import json

from connmodel.api.pages import PageOut, page_response
from connmodel.models import ConnectionPublic, utcnow
from connmodel.paging import Page


class _Carrying(ConnectionPublic):
    """A richer item than the route declares, as a service returning the wrong model would."""

    credential: str = "do-not-send"


def test_only_the_declared_fields_leave():
    item = _Carrying(id=1, profile="Google", environment="production", service="Google",
                     account="a@example.com", status="Active", created_at=utcnow())
    body = json.loads(page_response(Page([item], "next", 1, True), PageOut[ConnectionPublic]).body)
    assert set(body) == {"items", "next_cursor", "total", "total_exact"}
    assert set(body["items"][0]) == set(ConnectionPublic.model_fields)
    assert "do-not-send" not in json.dumps(body)
    assert body["items"][0]["created_at"].endswith("Z")  # as FastAPI's own serialization
