"""CORS for browser storefronts on other origins: the /api/ routes only, never the Twilio webhooks.

CORS_ALLOWED_ORIGINS empty (the default) means no cross-origin access at all: nothing is set up,
so a preflight gets no answer a browser would accept.
"""
from __future__ import annotations

from collections import defaultdict

import aiohttp_cors
from aiohttp import hdrs, web

from webhooks.compat import TOTAL_COUNT

API_PREFIX = "/api/"
REQUEST_HEADERS = ("Authorization", "Content-Type")
EXPOSED_HEADERS = (TOTAL_COUNT, "Retry-After")  # how long a locked sign-in or a throttled checkout waits


def enable(app: web.Application, origins: list[str]) -> None:
    """Call after every route is added: each /api/ route is opened to `origins` for the methods it serves."""
    if not origins:
        return
    routes = [r for r in app.router.routes()
              if _path(r).startswith(API_PREFIX) and r.method not in (hdrs.METH_OPTIONS, hdrs.METH_ANY)]
    # A path's methods can sit on several router resources (one per registration), and a preflight
    # reaches only the first of them, so each answers for all the methods of its path.
    methods: dict[str, set[str]] = defaultdict(set)
    for route in routes:
        methods[_path(route)].add(route.method)
    cors = aiohttp_cors.setup(app)
    for route in routes:
        options = aiohttp_cors.ResourceOptions(allow_methods=sorted(methods[_path(route)]),
                                               allow_headers=REQUEST_HEADERS, expose_headers=EXPOSED_HEADERS,
                                               allow_credentials=False, max_age=600)
        cors.add(route, {origin.rstrip("/"): options for origin in origins})  # an Origin never ends in /


def _path(route) -> str:
    return route.resource.canonical if route.resource is not None else ""
