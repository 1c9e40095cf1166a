"""The composition root: create_app(settings) builds and wires everything."""
from __future__ import annotations

import asyncio
import logging
from functools import partial

from aiohttp import web

from bot import replies
from core import accounts
from core.clock import SystemClock
from core.db import is_sqlite, make_engine, make_sessionmaker, sqlite_file
from core.settings import Settings
from core.uow import UnitOfWork, writers_for
from core.wal import Checkpointer
from webhooks import api, cors, delivery, keys, ledger, media, metrics, observe, openapi, ratelimit, scheduler, twilio
from webhooks.problems import problem_middleware
from webhooks.responder import Responder
from webhooks.routing import MAX_BODY, add_routes
from webhooks.sender import ConsoleTransport, Sender, TwilioTransport

log = logging.getLogger("orderdesk")
SHUTDOWN_GRACE_S = 20


def create_app(settings: Settings, *, clock=None, policy: delivery.Policy | None = None,
               sweep_seconds: float = 1.0, jobs_enabled: bool = True) -> web.Application:
    # Long request lines reach the app so they get a problem+json 400, not the parser's plain one.
    meters = observe.Meters()
    app = web.Application(middlewares=[observe.middleware(meters), problem_middleware], client_max_size=MAX_BODY,
                          handler_args={"max_line_size": 65536, "max_field_size": 65536})
    app[keys.METERS] = meters
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.ORDER_RATE] = ratelimit.SlidingWindow(settings.rate_limit_orders_per_minute, app[keys.CLOCK])
    app[keys.PASSWORDS] = accounts.Passwords()
    app[keys.TOKENS] = accounts.Tokens(settings)
    add_routes(app, api.ROUTES)
    twilio.add_routes(app)
    ledger.add_routes(app)
    document = openapi.build(api.ROUTES)

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/metrics", metrics.metrics)
    cors.enable(app, settings.cors_allowed_origins)  # after every route: it opens the /api/ ones
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(lambda app: _sender(app, policy or delivery.Policy(), sweep_seconds))
    app.cleanup_ctx.append(media.receipts_ctx)  # after the database: downloads stop before it closes
    if jobs_enabled:
        app.cleanup_ctx.append(_scheduler)
    return app


async def _database(app: web.Application):
    settings = app[keys.SETTINGS]
    file = sqlite_file(settings.database_url)
    # On SQLite the write-ahead log is copied back by a thread of ours, not inside a commit (core/wal.py).
    engine = make_engine(settings.database_url, autocheckpoint=file is None)
    app[keys.ENGINE] = engine
    # The sender is built next; until then a commit has nobody to wake.
    app[keys.UOW] = UnitOfWork(make_sessionmaker(engine), settings, app[keys.CLOCK],
                               after_commit=lambda: app.get(keys.SENDER) and app[keys.SENDER].wake(),
                               render=replies.render)
    checkpointer = None
    if file:
        checkpointer = Checkpointer(file, writers_for(engine), complaint=observe.Throttled(log))
        copying = asyncio.create_task(checkpointer.run(), name="sqlite-checkpointer")
    yield
    if checkpointer is not None:
        checkpointer.stop()
        await copying
    await engine.dispose()


async def _sender(app: web.Application, policy: delivery.Policy, sweep_seconds: float):
    settings = app[keys.SETTINGS]
    if settings.twilio_enabled:
        transport = TwilioTransport(settings)
    else:
        log.warning("TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are not set: messages are logged, not sent, "
                    "and webhook signatures are NOT checked. Set both before going live.")
        transport = ConsoleTransport()
    # SQLite is one process per file: what is claimed at start belongs to a process that stopped.
    sender = Sender(app[keys.UOW], transport, policy=policy, sweep_seconds=sweep_seconds,
                    status_callback=settings.public_base_url.rstrip("/") + "/webhooks/twilio/status",
                    sole_sender=is_sqlite(settings.database_url), meters=app[keys.METERS])
    app[keys.SENDER] = sender
    task = asyncio.create_task(sender.run(), name="outbox-sender")
    responder = app[keys.RESPONDER] = Responder(app[keys.UOW], partial(twilio.process, meters=app[keys.METERS]))
    answering = asyncio.create_task(responder.run(), name="inbound-responder")
    yield
    # The responder first: the replies it queues while finishing are still sent by the sender.
    await _finish(responder, answering, "inbound messages were still being answered; the rest is answered after restart")
    await _finish(sender, task, "the outbox sender did not finish; what it held is re-sent after restart")
    await transport.close()


async def _finish(worker, task: asyncio.Task, unfinished: str) -> None:
    """Ask a worker to stop after what it is doing, and give it SHUTDOWN_GRACE_S to."""
    worker.stop()
    try:
        await asyncio.wait_for(task, SHUTDOWN_GRACE_S)
    except asyncio.TimeoutError:
        log.warning("after %ss: %s", SHUTDOWN_GRACE_S, unfinished)


async def _scheduler(app: web.Application):
    running = scheduler.start(app[keys.UOW], app[keys.SETTINGS], app[keys.METERS])
    yield
    running.shutdown(wait=False)
