"""What a process counts about itself, with prometheus-client: requests by route and status, their
latency, inbound turns, sends by result and Twilio error code, job runs. Per process (each server
process is its own scrape target); the shop's own counts come from the database (webhooks/metrics.py).
Also the request id: `X-Request-ID` taken when it looks like one, else made, returned on every
answer and bound to the request's log lines."""
from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from core import logcontext

disable_created_metrics()  # no `_created` series beside each counter: a timestamp nobody graphs

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # what a proxy or a client may send and we echo
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Meters:
    """One process's meters, in a registry of its own (an app made twice in one process, as the
    tests do, counts apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("orderdesk_http_requests", "HTTP requests answered, by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("orderdesk_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["route"], buckets=SECONDS, registry=self.registry)
        self.turns = Histogram("orderdesk_inbound_turn_seconds", "From a WhatsApp message's webhook to its "
                               "answer queued (the bot's turn done).", buckets=SECONDS, registry=self.registry)
        self.sends = Counter("orderdesk_sends", "Sends to Twilio by result (sent, retry, failed) and Twilio "
                             "error code.", ["result", "error_code"], registry=self.registry)
        self.jobs = Counter("orderdesk_job_runs", "Scheduled job runs by job and result (ok, failed).",
                            ["job", "result"], registry=self.registry)

    def sent(self, result: str, error_code: object = None) -> None:
        self.sends.labels(result, str(error_code or "")).inc()


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"  # never the raw path: bounded labels


def middleware(meters: Meters):
    @web.middleware
    async def observe(request: web.Request, handler) -> web.StreamResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        started, status = time.perf_counter(), 500
        with logcontext.bound(request_id=request_id):
            try:
                response = await handler(request)
                status = response.status
            except web.HTTPException as exc:  # aiohttp's own answers (404, 405, 413) arrive raised
                status = exc.status
                exc.headers[REQUEST_ID_HEADER] = request_id
                raise
            finally:
                route = _route(request)
                meters.requests.labels(route, request.method, str(status)).inc()
                meters.latency.labels(route).observe(time.perf_counter() - started)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    return observe


class Throttled:
    """A worker's complaint about a failure that repeats (the database gone): logged at most once
    every `every_s` seconds, saying how many like it were held back meanwhile."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0, clock=time.monotonic) -> None:
        self.logger, self.every_s, self.clock = logger, every_s, clock
        self._last, self._held = -every_s, 0

    def exception(self, message: str, *args: object) -> None:
        now = self.clock()
        if now - self._last < self.every_s:
            self._held += 1
            return
        held, self._last, self._held = self._held, now, 0
        self.logger.error(message + (f" ({held} more like it not logged)" if held else ""), *args,
                          exc_info=True)
