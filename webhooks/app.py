"""The composition root: create_app(settings) builds and wires everything."""
from __future__ import annotations

import logging

from aiohttp import web

from core.clock import SystemClock
from core.db import make_engine, make_sessionmaker
from core.settings import Settings
from core.uow import UnitOfWork
from webhooks import api, keys, openapi
from webhooks.problems import problem_middleware
from webhooks.routing import MAX_BODY, add_routes

log = logging.getLogger("orderdesk")


def create_app(settings: Settings, *, clock=None) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=MAX_BODY)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    add_routes(app, api.ROUTES)
    document = openapi.build(api.ROUTES)

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/openapi.json", openapi_json)
    app.cleanup_ctx.append(_database)
    return app


async def _database(app: web.Application):
    settings = app[keys.SETTINGS]
    engine = make_engine(settings.database_url)
    app[keys.ENGINE] = engine
    app[keys.UOW] = UnitOfWork(make_sessionmaker(engine), settings, app[keys.CLOCK])
    yield
    await engine.dispose()
