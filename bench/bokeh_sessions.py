"""Browser sessions without a browser: Bokeh protocol clients, as many as a 2-core machine bears.

A session does what a browser tab does on the wire: GET the page (the server builds the
session's document and embeds its token), open the websocket with that token, pull the
document, say it is shown ("document_ready"), then send the same PATCH-DOC a widget change
sends and read the server's patches.
It renders nothing, so fifty of them cost the machine a fraction of fifty Chromium renderers
(issue 17 allows this for `bench/scale.py`). Only the JSON of the messages is read: the page's
own models (Panel's and the dashboard's) need not exist in this process.
"""

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

TOKEN = re.compile(rb'"token":"([^"]+)"')
MAX_MESSAGE = 100 * 2**20


def _objects(node: Any, found: dict[str, dict[str, Any]]) -> None:
    """Every model of a serialized document (nested object representations), by id."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node and "name" in node:
            found[node["id"]] = node
        for value in node.values():
            _objects(value, found)
    elif isinstance(node, list):
        for value in node:
            _objects(value, found)


@dataclass
class Arrival:
    at: float  # time.monotonic() when the message was read
    msgtype: str
    content: dict[str, Any]

    def changes(self) -> list[tuple[str, str, Any]]:
        """(model id, attribute, new value) of each change this message carries; a message to a
        component (a card's rows revoked, `ProfileCards.show_card`) is (its id, "msg", data)."""
        found = []
        for e in self.content.get("events", ()):
            if "id" in e.get("model", {}):
                found.append((e["model"]["id"], e.get("attr", ""), e.get("new")))
            elif e.get("kind") == "MessageSent":
                values = e.get("msg_data", {}).get("values", {})
                entries = dict(values.get("entries", ())) if values.get("type") == "map" else values
                if "id" in entries.get("model", {}):
                    found.append((entries["model"]["id"], "msg", entries.get("data")))
        return found


@dataclass
class BokehSession:
    """One page's websocket: `arrivals` records every message the server sends it."""

    socket: WebSocketClientConnection
    models: dict[str, dict[str, Any]]
    arrivals: list[Arrival] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # what the caller set, for its own use
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _sent: int = 0
    _reader: asyncio.Task[None] | None = None
    _awaited: str | None = None  # the model whose next change `change` waits for
    _changed_at: float = 0.0

    @classmethod
    async def open(cls, page_url: str) -> "BokehSession":
        """GET the page, connect its websocket, pull its document; then read in the background."""
        page = await AsyncHTTPClient().fetch(page_url, request_timeout=300)
        token = TOKEN.search(page.body)
        if token is None:
            raise RuntimeError(f"{page_url} carries no Bokeh session token")
        base = page_url.split("?", 1)[0].replace("http://", "ws://", 1)
        socket = await websocket_connect(HTTPRequest(base + "/ws"), max_message_size=MAX_MESSAGE,
                                         subprotocols=["bokeh", token.group(1).decode()])
        # As browsers do: without it Nagle's algorithm holds a message's second frame until the
        # server's delayed ACK of the first (~40 ms per message sent on Linux loopback).
        socket.protocol.set_nodelay(True)
        session = cls(socket, {})
        await session._read()  # ACK
        await session._send("PULL-DOC-REQ", {})
        while (reply := await session._read()).msgtype != "PULL-DOC-REPLY":
            pass
        _objects(reply.content, session.models)
        # As BokehJS does once it has rendered the document: Panel's `onload` callbacks run,
        # and a page follows the store's changes only from then (dashboard/changes.py).
        await session._send("PATCH-DOC", {"events": [{
            "kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
                "type": "event", "name": "document_ready", "values": {"type": "map"}}}]})
        session._reader = asyncio.create_task(session._read_forever())
        return session

    def model(self, name_suffix: str, **attributes: Any) -> str:
        """The id of the one model whose type name ends so and whose attributes are these."""
        ids = [i for i, m in self.models.items() if m["name"].endswith(name_suffix)
               and all(m.get("attributes", {}).get(k) == v for k, v in attributes.items())]
        if len(ids) != 1:
            raise LookupError(f"{len(ids)} models {name_suffix} with {attributes}")
        return ids[0]

    async def model_showing(self, prefix: str, timeout: float = 60) -> str:
        """The id of the one model whose text starts with prefix, in the document or, when the
        page reads after it is served (its first screen), in a patch yet to come."""
        deadline = time.monotonic() + timeout
        while True:
            ids = {i for i, m in self.models.items()
                   if any(isinstance(v, str) and v.startswith(prefix)
                          for v in m.get("attributes", {}).values())}
            ids |= {model for a in self.arrivals for model, _, new in a.changes()
                    if isinstance(new, str) and new.startswith(prefix)}
            if len(ids) == 1:
                return ids.pop()
            if len(ids) > 1 or time.monotonic() > deadline:
                raise LookupError(f"{len(ids)} models show {prefix!r}")
            await asyncio.sleep(0.05)

    async def change(self, model_id: str, attr: str, value: Any, until_model: str,
                     timeout: float = 60) -> float:
        """Set a widget's property as the browser does; seconds until until_model changes."""
        self._changed.clear()
        self._awaited = until_model
        started = time.monotonic()
        await self._send("PATCH-DOC", {"events": [
            {"kind": "ModelChanged", "model": {"id": model_id}, "attr": attr, "new": value}]})
        await asyncio.wait_for(self._changed.wait(), timeout)
        return self._changed_at - started

    def model_having(self, attribute: str) -> str:
        """The id of the one model with this attribute set, in the document or by a patch since
        (a document carries only the attributes that differ from their defaults)."""
        ids = {i for i, m in self.models.items() if attribute in m.get("attributes", {})}
        ids |= {model for a in self.arrivals for model, attr, _ in a.changes()
                if attr == attribute}
        if len(ids) != 1:
            raise LookupError(f"{len(ids)} models have {attribute!r}")
        return ids.pop()

    def first_change_after(self, since: float, model_id: str) -> float:
        """Seconds from since to the first patch of that model read after it, or a message to
        the component whose data it is (inf if none yet)."""
        ids = {model_id} | {i for i, m in self.models.items()
                            if isinstance(data := m.get("attributes", {}).get("data"), dict)
                            and data.get("id") == model_id}
        later = [a.at for a in self.arrivals if a.at > since and a.msgtype == "PATCH-DOC"
                 and any(model in ids for model, _, _ in a.changes())]
        return later[0] - since if later else float("inf")

    async def close(self) -> None:
        self.socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _send(self, msgtype: str, content: dict[str, Any]) -> None:
        self._sent += 1
        header = {"msgid": f"bench{self._sent}", "msgtype": msgtype}
        for part in (header, {}, content):
            await self.socket.write_message(json.dumps(part))

    async def _read(self) -> Arrival:
        frame = await self.socket.read_message()
        if frame is None:
            raise ConnectionError("the server closed the session")
        header = json.loads(frame)
        parts = [await self.socket.read_message() for _ in range(2)]
        for _ in range(header.get("num_buffers", 0)):
            await self.socket.read_message()
        arrival = Arrival(time.monotonic(), header["msgtype"], json.loads(parts[1]))
        self.arrivals.append(arrival)
        return arrival

    async def _read_forever(self) -> None:
        while True:
            try:
                arrival = await self._read()
            except ConnectionError:
                return
            if self._awaited and any(model == self._awaited for model, _, _ in arrival.changes()):
                self._changed_at = arrival.at
                self._awaited = None
                self._changed.set()
