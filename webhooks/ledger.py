"""POST /webhooks/ledger (CONTRACT §4): the shop's own money-in texts, as an SMS-forwarder app on the
shop's Android phone posts them.

The bearer is LEDGER_TOKEN (compared in constant time); while it is unset the route does not exist
(404), and a missing or wrong bearer is 401 before the body is even read. The body is what
forwarder apps send: JSON `{"from", "text", "sentStamp" or "receivedAt"}`, or the same as form fields
(`message` or `body` for the text). 201: a new entry kept; 200: kept already (the app retried, or
the text came twice); 202: not a money-in text, kept nowhere. Anything malformed is a 400 naming the
field, never a 5xx. A `text/plain` body is taken as the SMS itself, and `sender` for `from`.
"""
from __future__ import annotations

import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.money_in import keep_text
from webhooks import keys, shapes
from webhooks.problems import problem

MAX_TEXT_CHARS = 10_000
MAX_FROM_CHARS = 100
TEXT_FIELDS = ("text", "message", "body")
TIME_FIELDS = ("receivedAt", "sentStamp", "receivedStamp")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)


class BadField(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


async def receive(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    if not settings.ledger_token:
        return problem(404, "not-found", "Not found", "No such resource.")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    given = secret.strip().encode("utf-8", "replace")   # a header's stray bytes are a wrong token, not a 500
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, settings.ledger_token.encode()):
        response = problem(401, "unauthorized", "Unauthorized", "Send Authorization: Bearer <LEDGER_TOKEN>.")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        try:
            fields = await _fields(request)
        except web.HTTPRequestEntityTooLarge:
            return problem(413, "too-large", "Payload too large", "An SMS forwarder's post is a few kilobytes at most.")
        text = _text(fields)
        sender = _sender(fields)
        received_at = _received_at(fields, request.app[keys.CLOCK].now(), ZoneInfo(settings.shop_timezone))
    except BadField as bad:
        return problem(400, "validation", "Invalid request", str(bad),
                       errors=[{"field": bad.field, "message": bad.message}])
    async with request.app[keys.UOW]() as tx:
        kept = await keep_text(tx, text, source="forwarder", sender=sender, received_at=received_at)
        await tx.commit()
    if not kept:
        return shapes.json_response({"status": "ignored", "detail": "Not a money-in confirmation this shop can "
                                     "read; nothing was kept."}, 202)
    new = any(k.new for k in kept)
    return shapes.json_response({"status": "kept" if new else "already kept",
                                 "entries": [entry_out(k.entry, k.order.reference if k.order else None)
                                             for k in kept]}, 201 if new else 200)


def entry_out(entry, order_reference: str | None) -> dict:
    """LedgerEntryOut (webhooks/schemas.py), built as a plain dict like the other answers."""
    return {"id": entry.id, "provider": entry.provider, "kind": entry.kind, "transactionCode": entry.transaction_code,
            "amount": shapes.money(entry.amount), "currency": entry.currency, "payerName": entry.payer_name,
            "payerPhone": entry.payer_phone, "payerPhoneMasked": entry.payer_phone_masked, "account": entry.account,
            "paidAt": entry.paid_at, "receivedAt": entry.received_at, "text": entry.raw_text, "source": entry.source,
            "sender": entry.sender, "orderReference": order_reference, "matchedBy": entry.matched_by,
            "createdAt": entry.created_at}


async def _fields(request: web.Request) -> dict:
    """The posted fields, from JSON or a form (urlencoded or multipart); BadField when neither."""
    content_type = request.content_type.lower()
    if content_type == "multipart/form-data":
        try:
            return {name: value for name, value in (await request.post()).items() if isinstance(value, str)}
        except (ValueError, UnicodeDecodeError):
            raise BadField("body", "the multipart form could not be read") from None
    raw = await request.read()
    if content_type == "text/plain":   # the SMS itself as the body, as some apps post it
        try:
            return {"text": raw.decode()}
        except UnicodeDecodeError:
            raise BadField("body", "the text is not UTF-8") from None
    if "json" in content_type or raw.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(raw or b"null")
        except (ValueError, RecursionError):
            raise BadField("body", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadField("body", "the body must be a JSON object like {\"from\": \"MPESA\", \"text\": \"…\"}")
        return data
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True, errors="strict"))
    except UnicodeDecodeError:
        raise BadField("body", "the form is not UTF-8 text") from None


def _text(fields: dict) -> str:
    for name in TEXT_FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise BadField(name, "must be the SMS text, a string")
        if len(value) > MAX_TEXT_CHARS:
            raise BadField(name, f"is {len(value):,} characters; an SMS is at most {MAX_TEXT_CHARS:,}")
        text = CONTROL.sub("", value).strip()
        if text:
            return text
    raise BadField("text", "the SMS text is required (as text, message or body)")


def _sender(fields: dict) -> str | None:
    name = "from" if fields.get("from") not in (None, "") else "sender"
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadField(name, "must be the SMS sender, a string (e.g. MPESA)")
    return CONTROL.sub("", value).strip()[:MAX_FROM_CHARS] or None


def _received_at(fields: dict, now: datetime, zone: ZoneInfo) -> datetime:
    """When the shop's phone got the text: `receivedAt` (ISO 8601, or Unix time) or `sentStamp` (Unix
    time in milliseconds, as forwarder apps send it); now when neither is given."""
    for name in TIME_FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            continue
        when = _instant(value, zone)
        if when is None or not EARLIEST <= when <= now + timedelta(days=366):
            raise BadField(name, f"{str(value)[:40]!r} is not a time: send Unix milliseconds (1738704998000) "
                                 f"or ISO 8601 (2026-02-04T21:36:00+03:00)")
        return when
    return now


def _instant(value, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,16}(\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 10 ** 11 else value   # milliseconds, as Android stamps are
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(timezone.utc)
    return None


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/ledger", receive)

