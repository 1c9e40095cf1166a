"""`orderdesk chat`: play a WhatsApp customer (or admin) against a running server.

Each line you type is posted to the server's webhook exactly as Twilio would post it (signed when
TWILIO_AUTH_TOKEN is set); the bot's answers are read back from the outbound queue as they leave.
`/receipt` sends a photo of a receipt, `/pdf` a PDF receipt, `/voice` a voice note,
`/location -1.2921,36.8219 My shop, Moi Avenue` a location pin (label, then address), `/quit` ends.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import sys

import aiohttp
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from core.db import make_engine, make_sessionmaker
from core.errors import InvalidField
from core.models import OutboundMessage
from core.phones import to_e164
from core.settings import Settings

MEDIA = {
    "/receipt": ("https://api.twilio.com/2010-04-01/Accounts/ACchat/Messages/MMchat/Media/ME1", "image/jpeg"),
    "/pdf": ("https://api.twilio.com/2010-04-01/Accounts/ACchat/Messages/MMchat/Media/ME2", "application/pdf"),
    "/voice": ("https://api.twilio.com/2010-04-01/Accounts/ACchat/Messages/MMchat/Media/ME3", "audio/ogg"),
}
LOCATION = re.compile(r"/location\s+(?P<lat>-?[0-9.]{1,12})\s*,\s*(?P<lon>-?[0-9.]{1,12})"
                      r"(?:\s+(?P<label>[^,]{1,100})(?:,\s*(?P<address>.{1,300}))?)?\s*$")
QUIET_AFTER_S = 0.6
WAIT_AT_MOST_S = 4.0


def form_for(settings: Settings, phone: str, line: str) -> dict[str, str]:
    body, media = line, None
    for command, item in MEDIA.items():
        if line.startswith(command):
            body, media = line[len(command):].strip(), item
    form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": settings.twilio_account_sid or "ACchat",
            "From": f"whatsapp:{phone}", "To": settings.twilio_whatsapp_from, "Body": body,
            "NumMedia": "1" if media else "0", "ProfileName": "You", "WaId": phone.lstrip("+"),
            "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    if media:
        form["MediaUrl0"], form["MediaContentType0"] = media
    if pin := LOCATION.match(line):   # as Twilio posts a shared location: coordinates, no Body
        form.update(Body="", MessageType="location", Latitude=pin["lat"], Longitude=pin["lon"],
                    Label=pin["label"] or "", Address=pin["address"] or "")
    return form


async def chat(settings: Settings, phone: str, url: str | None) -> int:
    """The chat until /quit or end of input: 0; a number it cannot read or no server: one line, 2."""
    try:
        phone = to_e164(phone, settings.default_region, "--phone")
    except InvalidField:
        print(f"--phone: {phone!r} is not a phone number in region {settings.default_region}; "
              "write it with its country code, e.g. +254712345678", file=sys.stderr)
        return 2
    base = (url or settings.public_base_url).rstrip("/")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/health", timeout=aiohttp.ClientTimeout(5)):
            pass
    except (aiohttp.ClientError, TimeoutError):
        print(f"no orderdesk server answers at {base}: start one with `orderdesk serve` (or give its --url)",
              file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as db:
        seen = await db.scalar(select(func.coalesce(func.max(OutboundMessage.id), 0))) or 0
    print(f"Chatting as {phone} with {base}. Type a message; /receipt, /pdf, /voice, /location lat,lon, /quit.")
    try:
        async with aiohttp.ClientSession() as http:
            while True:
                line = await asyncio.to_thread(_read_line)
                if line is None or line.strip() == "/quit":
                    return 0
                if not line.strip():
                    continue
                form = form_for(settings, phone, line.strip())
                headers = {}
                if settings.twilio_auth_token:
                    signed_url = settings.public_base_url.rstrip("/") + "/webhooks/twilio/whatsapp"
                    headers["X-Twilio-Signature"] = RequestValidator(settings.twilio_auth_token).compute_signature(
                        signed_url, form)
                try:
                    async with http.post(f"{base}/webhooks/twilio/whatsapp", data=form, headers=headers) as response:
                        if response.status != 200:
                            print(f"! the server answered {response.status}: {await response.text()}")
                            continue
                except aiohttp.ClientError:
                    print(f"! no answer from {base}: is orderdesk serve still running? (/quit to end)")
                    continue
                seen = await _show_replies(sessions, phone, seen)
    finally:
        await engine.dispose()


def _read_line() -> str | None:
    try:
        return input("you> ")
    except (EOFError, BrokenPipeError):
        return None


async def _show_replies(sessions, phone: str, seen: int) -> int:
    """Print what leaves the queue for this phone until it has been quiet for a moment."""
    loop = asyncio.get_running_loop()
    started = last = loop.time()
    while loop.time() - started < WAIT_AT_MOST_S and loop.time() - last < QUIET_AFTER_S + (seen == 0) * 2:
        async with sessions() as db:
            rows = (await db.execute(select(OutboundMessage).where(
                OutboundMessage.to_phone == phone, OutboundMessage.id > seen).order_by(OutboundMessage.id))).scalars()
            for message in rows:
                print(f"\nshop [{message.status}]> {message.body}\n")
                seen, last = message.id, loop.time()
        await asyncio.sleep(0.1)
    sys.stdout.flush()
    return seen
