"""Twilio's webhooks: signature first (403, nothing written), store by MessageSid, answer empty TwiML;
the conversation turn runs after, in webhooks/responder.py."""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bot.inbound import handle_inbound
from core import alerts, inbox, logcontext, outbox, window
from webhooks import delivery, keys, observe

log = logging.getLogger("orderdesk.twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_MEDIA = 10
MAX_BODY_CHARS = 20_000


# C0 control characters but tab, newline and carriage return, and DEL: no WhatsApp text carries
# them, and PostgreSQL cannot store NUL in text at all.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class NotTwilioForm(Exception):
    """The body is not a form Twilio would send; its message says what is wrong (a 400's text)."""


async def _read_form(request: web.Request, identifiers: tuple[str, ...]) -> tuple[MultiDict, MultiDict]:
    """(the form as posted, for the signature; the form as stored) of an
    `application/x-www-form-urlencoded` Twilio webhook (CONTRACT §3).

    Control characters are removed from every field but the `identifiers`, which must not hold
    any. Raises NotTwilioForm for bytes that are not UTF-8, raw or percent-encoded, or a control
    character in an identifier.
    """
    try:
        pairs = parse_qsl((await request.read()).decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise NotTwilioForm("the form is not UTF-8 text") from None
    clean = MultiDict()
    for name, value in pairs:
        if name in identifiers and CONTROL.search(value):
            raise NotTwilioForm(f"{name} holds a control character")
        clean.add(name, CONTROL.sub("", value))
    return MultiDict(pairs), clean


def _twiml(status: int = 200) -> web.Response:
    return web.Response(status=status, text=EMPTY_TWIML, content_type="text/xml")


def _signed(request: web.Request, form) -> bool:
    settings = request.app[keys.SETTINGS]
    if not settings.twilio_enabled:
        return True  # console mode: start-up warned loudly that signatures are not checked
    signature = request.headers.get("X-Twilio-Signature", "")
    # Twilio signs the URL it called, which behind a proxy is not the one this process sees.
    url = settings.public_base_url.rstrip("/") + request.path_qs
    # A MultiDict, which the validator reads through `getall` (from a dict it would raise and catch two
    # AttributeErrors per field and signature: 40 % of its time).
    return bool(signature) and RequestValidator(settings.twilio_auth_token).validate(url, form, signature)


def _media(form) -> list[dict]:
    try:
        count = min(max(int(form.get("NumMedia", "0")), 0), MAX_MEDIA)
    except ValueError:
        count = 0
    media = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}")
        if url:
            media.append({"url": url, "contentType": (form.get(f"MediaContentType{i}") or "").lower()})
    return media


# Twilio's form fields for what WhatsApp adds to a message (twilio.com/docs/messaging/guides/webhook-request,
# "WhatsApp-specific parameters"), each kept under the name the bot reads it by.
REFERRAL_FIELDS = {"ReferralHeadline": "headline", "ReferralBody": "body", "ReferralSourceUrl": "sourceUrl",
                   "ReferralSourceType": "sourceType", "ReferralSourceId": "sourceId", "ReferralCtwaClid": "ctwaClid"}
MAX_DETAIL_CHARS = 500


def _details(form) -> dict | None:
    """The message this one replies to (`OriginalRepliedMessageSid`), the quick-reply button tapped
    (`ButtonPayload`, `ButtonText`), a shared location (`Latitude`, `Longitude`, `Address`, `Label`)
    and the click-to-WhatsApp ad that brought it (`Referral…`); None when there is none of these."""
    def text(name: str) -> str | None:
        value = str(form.get(name) or "").strip()
        return value[:MAX_DETAIL_CHARS] or None

    details: dict = {}
    if replied := text("OriginalRepliedMessageSid"):
        details["repliedTo"] = replied[:64]
    if (payload := text("ButtonPayload")) or text("ButtonText"):
        details["button"] = {"payload": payload, "text": text("ButtonText")}
    try:
        latitude, longitude = float(form.get("Latitude", "")), float(form.get("Longitude", ""))
    except ValueError:
        latitude = longitude = None
    if latitude is not None and abs(latitude) <= 90 and abs(longitude) <= 180:
        details["location"] = {"latitude": latitude, "longitude": longitude,
                               "address": text("Address"), "label": text("Label")}
    referral = {key: value for name, key in REFERRAL_FIELDS.items() if (value := text(name))}
    if referral:
        details["referral"] = referral
    return details or None


async def inbound(request: web.Request) -> web.Response:
    try:
        posted, form = await _read_form(request, identifiers=("MessageSid", "SmsMessageSid", "From"))
    except NotTwilioForm as exc:
        return web.Response(status=400, text=str(exc))
    if not _signed(request, posted):
        return web.Response(status=403, text="invalid Twilio signature")
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    sender = form.get("From")
    if not sid or not sender:
        return web.Response(status=400, text="MessageSid and From are required")
    uow = request.app[keys.UOW]
    media = _media(form)
    async with uow() as tx:
        message_id = await inbox.store(
            tx, message_sid=str(sid)[:64], from_phone=str(sender)[:40], body=str(form.get("Body", ""))[:MAX_BODY_CHARS],
            media=media, wa_id=(str(form["WaId"])[:20] if form.get("WaId") else None),
            profile_name=(str(form["ProfileName"])[:200] if form.get("ProfileName") else None),
            request_id=logcontext.current().get("request_id"), details=_details(form))
        await tx.commit()
    if message_id is not None:
        # Answered by the responder, from the database: Twilio gets its answer now, whatever the
        # conversation turn costs. The receipts are fetched once the turn has recorded the proof.
        receipts = request.app.get(keys.RECEIPTS) if media else None
        request.app[keys.RESPONDER].submit(message_id, then=receipts and (lambda: receipts.fetch_for(message_id)))
    return _twiml()


async def process(uow, message_id: int, meters: observe.Meters | None = None) -> None:
    """Answer a stored message, its log lines carrying the webhook's request id and its MessageSid.
    A failure here is recorded and relayed, never lost or raised to Twilio."""
    about: dict[str, object] = {}
    try:
        async with uow() as tx:
            message = await inbox.take_unprocessed(tx, message_id)
            if message is None:
                return
            about = {"request_id": message.request_id, "message_sid": message.message_sid}
            with logcontext.bound(**about):
                held = await inbox.hold_if_over_limit(tx, message)  # kept, not answered: the admins are told
                if not held:
                    await handle_inbound(tx, message)
                    message.processed_at = tx.now()
                await tx.flush()  # the turn's ORM changes first: the message may name an order they wrote
                await inbox.save(tx, message)
                await tx.commit()
        if meters is not None and not held:
            meters.turns.observe((uow.now() - message.received_at).total_seconds())
    except Exception as exc:
        with logcontext.bound(**about):
            log.exception("inbound message %s could not be handled", message_id)
            async with uow() as tx:
                message = await inbox.take_unprocessed(tx, message_id)
                if message is None:
                    return
                message.error, message.processed_at = f"{type(exc).__name__}: {exc}"[:1000], tx.now()
                await inbox.save(tx, message)
                await alerts.tell_admins(tx, "admin_relay", key=f"inbound:{message_id}:unhandled",
                                         variables={"name": message.profile_name or "customer",
                                                    "phone": message.from_phone.removeprefix("whatsapp:"),
                                                    "order": " (we could not handle this message automatically)",
                                                    "text": message.body[:600] or "[media]"})
                await tx.commit()


async def status_callback(request: web.Request) -> web.Response:
    try:
        posted, form = await _read_form(request, identifiers=("MessageSid", "SmsSid", "MessageStatus", "SmsStatus"))
    except NotTwilioForm as exc:
        return web.Response(status=400, text=str(exc))
    if not _signed(request, posted):
        return web.Response(status=403, text="invalid Twilio signature")
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        return web.Response(status=400, text="MessageSid and MessageStatus are required")
    error_code = str(form["ErrorCode"])[:20] if form.get("ErrorCode") else None
    async with request.app[keys.UOW]() as tx:
        failed = await outbox.record_callback(tx, str(sid)[:64], str(status)[:40].lower(), error_code)
        if failed is not None:
            await window.not_delivered(tx, failed, error_code, delivery.reason_for(error_code, status))
        await tx.commit()
    return _twiml()


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/twilio/whatsapp", inbound)
    app.router.add_post("/webhooks/twilio/status", status_callback)
