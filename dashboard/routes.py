"""A mixin put in front of every handler of the built Tornado application, whoever added it.

Run on the application as built (its routes are final), so a route added by any part of the
server (Bokeh, Panel, the auth module, serve.py) is covered, not only those listed when the
server was configured.
"""

from typing import Any

from tornado.routing import URLSpec
from tornado.web import Application, RequestHandler


def put_in_front(app: Application, mixin: type[RequestHandler],
                 **attributes: Any) -> None:
    """Every handler of `app` that is what `mixin` extends (its base class: RequestHandler for
    every route, WebSocketHandler for the websockets) becomes a subclass with `mixin` first and
    `attributes` as class attributes; the original classes are left alone."""
    base = mixin.__bases__[0]
    for rule in app.wildcard_router.rules:
        target = rule.target
        if isinstance(target, type) and issubclass(target, base) \
                and not issubclass(target, mixin):
            rule.target = type(f"{mixin.__name__}{target.__name__}", (mixin, target), attributes)
            if isinstance(rule, URLSpec):
                rule.handler_class = rule.target
