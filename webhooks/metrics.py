"""GET /metrics: Prometheus text (prometheus-client) for an admin token or METRICS_TOKEN. The shop's
counts are read from the database, so every server process reports the same truth — row counts
from the tallies (core/tallies.py), exact without walking the rows — followed by what this process
counted itself (webhooks/observe.py)."""
from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import bindparam, func, select

from core import tallies
from core.models import OutboundMessage, Product
from core.tokens import Role, authenticate
from webhooks import keys
from webhooks.problems import problem


async def _allowed(request: web.Request) -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return False
    expected = request.app[keys.SETTINGS].metrics_token
    if expected and hmac.compare_digest(secret.strip(), expected):
        return True
    async with request.app[keys.UOW](readonly=True) as tx:
        token = await authenticate(tx, secret.strip())
    return token is not None and token.role == Role.ADMIN


# Waiting to go: queued, or claimed by a sender and not yet answered by Twilio.
WAITING = ("queued", "sending")
OLDEST_WAITING = select(func.min(OutboundMessage.created_at)).where(OutboundMessage.status.in_(WAITING))
LOW_STOCK = select(func.count()).select_from(Product).where(Product.stock_quantity <= bindparam("threshold"))


class _Read:
    """A collector of families already read from the database (collect() cannot await)."""

    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return self.families


async def metrics(request: web.Request) -> web.Response:
    if not await _allowed(request):
        return problem(401, "unauthorized", "Unauthorized", "Send an admin token or METRICS_TOKEN as a bearer token.")
    async with request.app[keys.UOW](readonly=True) as tx:
        counts = await tallies.counts(tx)
        low = await tx.scalar(LOW_STOCK, {"threshold": request.app[keys.SETTINGS].low_stock_threshold})
        oldest = await tx.scalar(OLDEST_WAITING)
        now = tx.now()
    orders = GaugeMetricFamily("orderdesk_orders", "Orders by status.", labels=["status"])
    for status, n in sorted(counts["orders"].items()):
        orders.add_metric([status], n)
    outbound = GaugeMetricFamily("orderdesk_outbound_messages", "Outbound WhatsApp messages by delivery status.",
                                 labels=["status"])
    for status, n in sorted(counts["outbound_messages"].items()):
        outbound.add_metric([status], n)
    shop = CollectorRegistry(auto_describe=True)
    shop.register(_Read([
        orders, outbound,
        CounterMetricFamily("orderdesk_inbound_messages", "Inbound WhatsApp messages stored.",
                            value=counts["inbound_messages"].get("", 0)),
        GaugeMetricFamily("orderdesk_products_low_stock", "Products at or under LOW_STOCK_THRESHOLD.", value=low),
        GaugeMetricFamily("orderdesk_outbox_waiting", "Outbound messages not yet sent (queued or being sent).",
                          value=sum(counts["outbound_messages"].get(s, 0) for s in WAITING)),
        GaugeMetricFamily("orderdesk_outbox_oldest_waiting_seconds", "Age of the oldest outbound message not yet "
                          "sent; 0 when none waits.", value=(now - oldest).total_seconds() if oldest else 0),
    ]))
    # The shop's counts (the same from every process), then this process's own meters.
    body = generate_latest(shop) + generate_latest(request.app[keys.METERS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
