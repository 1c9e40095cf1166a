"""GET /metrics: Prometheus text for an admin token or METRICS_TOKEN — counts read from the database,
so every server process reports the same truth: the row counts from its tallies (core/tallies.py),
exact without walking the rows."""
from __future__ import annotations

import hmac

from aiohttp import web
from sqlalchemy import func, select

from core import tallies
from core.models import Product
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


async def metrics(request: web.Request) -> web.Response:
    if not await _allowed(request):
        return problem(401, "unauthorized", "Unauthorized", "Send an admin token or METRICS_TOKEN as a bearer token.")
    threshold = request.app[keys.SETTINGS].low_stock_threshold
    async with request.app[keys.UOW](readonly=True) as tx:
        counts = await tallies.counts(tx)
        low = await tx.session.scalar(select(func.count()).select_from(Product)
                                      .where(Product.stock_quantity <= threshold))
    orders, outbound = sorted(counts["orders"].items()), sorted(counts["outbound_messages"].items())
    inbound = counts["inbound_messages"].get("", 0)
    lines = ["# HELP orderdesk_orders Orders by status.", "# TYPE orderdesk_orders gauge"]
    lines += [f'orderdesk_orders{{status="{status}"}} {count}' for status, count in orders]
    lines += ["# HELP orderdesk_outbound_messages Outbound WhatsApp messages by delivery status.",
              "# TYPE orderdesk_outbound_messages gauge"]
    lines += [f'orderdesk_outbound_messages{{status="{status}"}} {count}' for status, count in outbound]
    lines += ["# HELP orderdesk_inbound_messages_total Inbound WhatsApp messages stored.",
              "# TYPE orderdesk_inbound_messages_total counter", f"orderdesk_inbound_messages_total {inbound}",
              "# HELP orderdesk_products_low_stock Products at or under LOW_STOCK_THRESHOLD.",
              "# TYPE orderdesk_products_low_stock gauge", f"orderdesk_products_low_stock {low}"]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})
