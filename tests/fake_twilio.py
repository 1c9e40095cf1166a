"""A recording fake of Twilio, served for real on loopback and speaking Twilio's wire format.

In: basic-auth form posts to `/2010-04-01/Accounts/{sid}/Messages.json`, answered with the
Message resource JSON `twilio.rest.Client(...).messages.create_async` parses, or with Twilio's
error JSON (`{"code", "message", "more_info", "status"}`) when a test scripts a failure; and GETs of
the same URL, the list of created messages in Twilio's page shape (`messages.list_async` reads it),
filtered by `To`, `From` and `DateSent`, newest first. A send can be accepted with its answer
withheld (`withhold_next`): created, listed, and never answered, as when the sender dies mid-send.
Out: status callbacks and inbound-message webhooks as Twilio sends them, form-encoded and signed
with `RequestValidator`. Media sits behind basic auth like Twilio's, optionally "not there yet".

    async with FakeTwilio() as twilio:
        client = Client(twilio.account_sid, twilio.auth_token, http_client=AsyncTwilioHttpClient())
        client.api.base_url = twilio.base_url    # the app does this with TWILIO_API_BASE_URL
        twilio.reject_next(21211)                # the next send is refused, the one after succeeds

Everything is bounded: scripted hangs end at their time or at shutdown, waits have time-outs.
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, ClientTimeout, hdrs, web
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fedcba9876543210" * 2
SHOP_WHATSAPP = "whatsapp:+14155238886"

# Twilio error code -> (HTTP status, message). Messages follow Twilio's; {to} is filled in.
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21619: (400, "A text message body or media urls must be specified."),
    21656: (400, "The ContentVariables Parameter is invalid."),
    21910: (400, "Invalid From and To pair. From and To should be of the same channel"),
    63003: (400, "Channel could not find To address"),
    63016: (400, "Failed to send freeform message because you are outside the allowed window. "
                 "If you are using WhatsApp, please use a Message Template."),
    63024: (400, "Invalid message recipient"),
}
CODE_FOR_STATUS = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
# The fields of a send the app may use; recorded as None when absent. MediaUrl is always a list.
MESSAGE_FIELDS = ("To", "From", "Body", "StatusCallback", "ContentSid", "ContentVariables",
                  "MessagingServiceSid")
MAX_HANG = 5.0
MAX_BODY_CHARS = 1600  # Twilio refuses a longer Body (21617)
MAX_WITHHOLD = 60.0  # long enough to kill a server in the meantime; ended early by close()


def new_sid(prefix: str) -> str:
    """A Twilio SID: two letters and 32 hex digits (SM message, MM media message, ME media)."""
    return prefix + secrets.token_hex(16)


def basic_auth(login: str, password: str) -> str:
    """An Authorization header value (aiohttp's BasicAuth is deprecated from 3.14)."""
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def twilio_error(code: int, *, status: int | None = None, message: str | None = None,
                 **facts: str) -> web.Response:
    default_status, template = ERRORS.get(code, (status or 400, "Error {code}"))
    body = {"code": code, "message": message or template.format(code=code, **facts),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status or default_status}
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if body["status"] == 401 else None
    return web.json_response(body, status=body["status"], headers=headers)


def _bare(phone: str) -> str:
    return phone.removeprefix("whatsapp:")


def _whatsapp(phone: str) -> str:
    return phone if phone.startswith("whatsapp:") else f"whatsapp:{phone}"


@dataclass(frozen=True)
class Answer:
    """One scripted answer to a send: an error (status + Twilio code), or a hang then an error.
    `when` limits it to the sends it matches (e.g. one recipient); others pass it by."""
    status: int
    code: int
    message: str | None = None
    hang: float = 0.0
    when: Callable[[dict], bool] | None = None
    withhold: bool = False  # create the message, then never answer: drop the connection after `hang`

    @classmethod
    def error(cls, code: int, *, status: int | None = None, message: str | None = None,
              when: Callable[[dict], bool] | None = None) -> Answer:
        return cls(status or ERRORS.get(code, (400,))[0], code, message, 0.0, when)


def inbound_form(from_phone: str, body: str = "", *, to: str = SHOP_WHATSAPP,
                 media: Iterable[tuple[str, str]] = (), profile_name: str | None = "Amina Otieno",
                 wa_id: str | None = None, message_sid: str | None = None,
                 account_sid: str = ACCOUNT_SID, messaging_service_sid: str | None = None,
                 replied_to: str | None = None, button: tuple[str, str] | None = None,
                 location: tuple[float, float, str, str] | None = None,
                 fields: dict[str, str] | None = None) -> dict[str, str]:
    """The form Twilio posts to the inbound-message webhook for one WhatsApp message.
    media: (url, content_type) pairs. A message with media gets an MM sid, as Twilio gives it.
    replied_to: the SID of the message this one swipe-replies to (`OriginalRepliedMessageSid`);
    button: the quick-reply tapped, (payload, text); location: (latitude, longitude, address, label)
    of a shared pin; fields: any other of Twilio's fields as sent (`ReferralHeadline`, …)."""
    media = list(media)
    sid = message_sid or new_sid("MM" if media else "SM")
    phone = _bare(from_phone)
    form = {
        "SmsMessageSid": sid, "NumMedia": str(len(media)), "SmsSid": sid, "SmsStatus": "received",
        "Body": body, "To": _whatsapp(to), "NumSegments": "1", "ReferralNumMedia": "0",
        "MessageSid": sid, "AccountSid": account_sid, "From": _whatsapp(phone),
        "ApiVersion": API_VERSION, "WaId": wa_id or re.sub(r"\D", "", phone),
        "MessageType": _message_type(media),
    }
    if profile_name is not None:
        form["ProfileName"] = profile_name
    if messaging_service_sid:
        form["MessagingServiceSid"] = messaging_service_sid
    for i, (url, content_type) in enumerate(media):
        form[f"MediaUrl{i}"], form[f"MediaContentType{i}"] = url, content_type
    if replied_to:
        form["OriginalRepliedMessageSid"] = replied_to
        form["OriginalRepliedMessageSender"] = _whatsapp(to)
    if button:
        form["ButtonPayload"], form["ButtonText"], form["MessageType"] = button[0], button[1], "button"
    if location:
        latitude, longitude, address, label = location
        form.update({"Latitude": str(latitude), "Longitude": str(longitude), "Address": address, "Label": label,
                     "MessageType": "location"})
    form.update(fields or {})
    return form


def _message_type(media: list[tuple[str, str]]) -> str:
    if not media:
        return "text"
    kind = media[0][1].split("/")[0]
    return kind if kind in ("image", "audio", "video") else "document"


def sign(url: str, form: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature for a form posted to `url` (the URL Twilio was configured with)."""
    return RequestValidator(auth_token).compute_signature(url, form)


async def post_signed(session: ClientSession, post_url: str, signed_url: str, form: dict[str, str],
                      auth_token: str | None, *, signature: str | None = None) -> tuple[int, str]:
    """Post `form` to `post_url` as Twilio does, signed for `signed_url` (the public URL the app
    checks against). auth_token None and no signature: unsigned. Returns (status, text)."""
    headers = {"User-Agent": "TwilioProxy/1.1", "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
    if signature is None and auth_token is not None:
        signature = sign(signed_url, form, auth_token)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    async with session.post(post_url, data=form, headers=headers,
                            timeout=ClientTimeout(total=MAX_HANG)) as response:
        return response.status, await response.text()


class FakeTwilio:
    """Twilio's REST API on 127.0.0.1 and a random port, recording what it is sent.

    requests: every send that reached Messages.json, answered or not, as a dict of the form
      fields (MESSAGE_FIELDS, None when absent; MediaUrl a list; any other field as sent) plus
      `sid` (None unless created), `status` (HTTP status answered; None while or when withheld),
      `at` (time.time()) and `created` (an aware datetime, when created).
    messages: the sends that were created (201, or accepted with the answer withheld).
    lookups: every GET of the list: its query parameters and the HTTP status answered.
    callbacks: the status callbacks sent, with the app's answer.
    media_requests: the media downloads, with the answer.
    """

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.requests: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.media_requests: list[dict[str, Any]] = []
        self.lookups: list[dict[str, Any]] = []
        self._release = asyncio.Event()
        self._lookup_failures = 0
        self.latency = 0.0  # seconds each accepted send takes to be answered, as Twilio's 0.1-0.5 s
        self._script: list[Answer] = []
        self._media: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._closing = asyncio.Event()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account_sid}/Messages.json", self._create_message)
        app.router.add_get("/2010-04-01/Accounts/{account_sid}.json", self._account)
        app.router.add_get("/2010-04-01/Accounts/{account_sid}/Messages.json", self._list_messages)
        app.router.add_get("/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}",
                           self._media_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = ClientSession()
        return self

    async def close(self) -> None:
        self._closing.set()  # ends scripted hangs now
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTwilio:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """What TWILIO_API_BASE_URL is set to: scheme, host and port, no path."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    # -- scripting failures ------------------------------------------------------------------
    def script(self, *answers: Answer) -> None:
        """Queue answers; each send takes the first queued answer that matches it, else succeeds."""
        self._script.extend(answers)

    def clear_script(self) -> None:
        """Forget the scripted answers still waiting: every send succeeds again."""
        self._script.clear()

    def fail_next(self, n: int = 1, status: int = 500, *, to: str | None = None) -> None:
        """The next n sends (to `to`, if given) get a transient error: 500, 503 or 429."""
        self.script(*[Answer(status, CODE_FOR_STATUS.get(status, 20500), when=_to(to)) for _ in range(n)])

    def rate_limit_next(self, n: int = 1, *, to: str | None = None) -> None:
        self.fail_next(n, 429, to=to)

    def reject_next(self, code: int, n: int = 1, *, to: str | None = None, freeform_only: bool = False,
                    status: int = 400, message: str | None = None) -> None:
        """The next n sends get a permanent 400 with a Twilio code (21211, 63016, 63003, 63024…).
        freeform_only: only sends with a Body and no ContentSid (a template then goes through)."""
        def matches(form: dict) -> bool:
            return (to is None or _bare(form["To"] or "") == _bare(to)) and \
                not (freeform_only and form["ContentSid"])
        self.script(*[Answer.error(code, status=status, message=message, when=matches) for _ in range(n)])

    def hang_next(self, n: int = 1, seconds: float = MAX_HANG, *, to: str | None = None) -> None:
        """The next n sends get no answer for `seconds` (at most MAX_HANG, ended early by close()),
        then a 503, which a client that timed out never reads."""
        self.script(*[Answer(503, 20503, hang=min(seconds, MAX_HANG), when=_to(to)) for _ in range(n)])

    def withhold_next(self, n: int = 1, seconds: float = MAX_WITHHOLD, *, to: str | None = None) -> None:
        """The next n sends are created (listed, as Twilio keeps them) but never answered: the
        connection is held until the client goes away, close(), release_withheld() or `seconds` (at
        most MAX_WITHHOLD), then dropped."""
        self.script(*[Answer(201, 0, hang=min(seconds, MAX_WITHHOLD), when=_to(to), withhold=True)
                      for _ in range(n)])

    def release_withheld(self) -> None:
        """End the holds under way now: their connections are dropped, unanswered."""
        self._release.set()
        self._release = asyncio.Event()

    def fail_lookups_next(self, n: int = 1) -> None:
        """The next n GETs of the message list answer 503 (Twilio down for reads too)."""
        self._lookup_failures += n

    def _take_answer(self, form: dict) -> Answer | None:
        for i, answer in enumerate(self._script):
            if answer.when is None or answer.when(form):
                return self._script.pop(i)
        return None

    # -- the REST API ------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        try:
            credentials = base64.b64decode(encoded, validate=True).decode()
        except ValueError:
            return False
        return scheme.lower() == "basic" and \
            secrets.compare_digest(credentials, f"{self.account_sid}:{self.auth_token}")

    async def _account(self, request: web.Request) -> web.Response:
        """GET …/Accounts/{sid}.json: the account resource, as `orderdesk doctor` asks for it."""
        if not self._authorized(request):
            return twilio_error(20003)
        if request.match_info["account_sid"] != self.account_sid:
            return twilio_error(20404, path=request.path)
        now = format_datetime(datetime.now(timezone.utc))
        return web.json_response({
            "sid": self.account_sid, "friendly_name": "Demo Shop", "status": "active", "type": "Full",
            "auth_token": self.auth_token, "owner_account_sid": self.account_sid, "date_created": now,
            "date_updated": now, "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json",
            "subresource_uris": {"messages": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"}})

    async def _create_message(self, request: web.Request) -> web.Response:
        posted = await request.post()
        form: dict[str, Any] = {name: None for name in MESSAGE_FIELDS}
        form.update({k: str(v) for k, v in posted.items() if k != "MediaUrl"})
        form["MediaUrl"] = [str(v) for v in posted.getall("MediaUrl", [])]
        form.update(sid=None, status=None, at=time.time(), created=None)
        self.requests.append(form)

        response = await self._answer(request, form)
        if response is None:  # withheld: the connection is closed, this answer reaches nobody
            return web.Response(status=201)
        form["status"] = response.status
        return response

    async def _answer(self, request: web.Request, form: dict) -> web.Response:
        if not self._authorized(request):
            return twilio_error(20003)
        if request.match_info["account_sid"] != self.account_sid:
            return twilio_error(20404, path=request.path)
        answer = self._take_answer(form)
        if answer is not None and answer.withhold:
            self._create(form)
            await self._hold(request, answer.hang)
            if request.transport is not None:
                request.transport.close()
            return None
        if answer is not None:
            if answer.hang:
                try:
                    await asyncio.wait_for(self._closing.wait(), answer.hang)
                except TimeoutError:
                    pass
            return twilio_error(answer.code, status=answer.status, message=answer.message,
                                to=form["To"] or "", path=request.path)
        refusal = _refusal(form)
        if refusal is not None:
            return twilio_error(refusal, to=form["To"] or "")
        if self.latency:
            await asyncio.sleep(min(self.latency, MAX_HANG))
        self._create(form)
        return web.json_response(self._message_resource(form), status=201)

    def _create(self, form: dict) -> None:
        form["sid"], form["created"] = new_sid("SM"), datetime.now(timezone.utc)

    async def _hold(self, request: web.Request, seconds: float) -> None:
        """Until the client drops the connection, close(), release_withheld(), or `seconds`."""
        deadline, release = time.monotonic() + seconds, self._release
        while request.transport is not None and not request.transport.is_closing() and \
                not self._closing.is_set() and not release.is_set() and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(release.wait(), 0.02)
            except TimeoutError:
                pass

    def _message_resource(self, form: dict, *, listed: bool = False) -> dict[str, Any]:
        """The Message resource: as the create answers it (queued), or as the list shows it later
        (sent, date_sent set). A template's body is shown rendered, here as its variables in order."""
        created = format_datetime(form["created"], usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{form['sid']}"
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": _shown_body(form),
            "date_created": created, "date_sent": created if listed else None, "date_updated": created,
            "direction": "outbound-api", "error_code": None, "error_message": None, "from": form["From"],
            "messaging_service_sid": form["MessagingServiceSid"], "num_media": str(len(form["MediaUrl"])),
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": form["sid"],
            "status": "sent" if listed else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": form["To"], "uri": f"{uri}.json",
        }

    async def _list_messages(self, request: web.Request) -> web.Response:
        """GET Messages.json: created messages, newest first, in pages of PageSize (default 50, at
        most 1000; Page counts from 0), filtered by To and From (exact) and DateSent (YYYY-MM-DD,
        or `DateSent<` / `DateSent>` for on-or-before / on-or-after)."""
        query = request.query
        lookup = {**query, "status": None, "at": time.time()}
        self.lookups.append(lookup)
        if not self._authorized(request):
            response = twilio_error(20003)
        elif request.match_info["account_sid"] != self.account_sid:
            response = twilio_error(20404, path=request.path)
        elif self._lookup_failures > 0:
            self._lookup_failures -= 1
            response = twilio_error(20503)
        else:
            response = web.json_response(self._page(request.path, query))
        lookup["status"] = response.status
        return response

    def _page(self, path: str, query) -> dict[str, Any]:
        def day(m: dict) -> str:
            return m["created"].date().isoformat()

        found = [m for m in self.messages
                 if query.get("To", m["To"]) == m["To"] and query.get("From", m["From"]) == m["From"]
                 and query.get("DateSent", day(m)) == day(m) and query.get("DateSent<", day(m)) >= day(m)
                 and query.get("DateSent>", day(m)) <= day(m)]
        found.sort(key=lambda m: m["created"], reverse=True)
        size, page = min(max(int(query.get("PageSize", 50)), 1), 1000), max(int(query.get("Page", 0)), 0)
        start = page * size
        shown = found[start:start + size]
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(number: int) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': number, 'PageToken': f'PA{number}'})}"

        return {
            "messages": [self._message_resource(m, listed=True) for m in shown],
            "start": start, "end": start + max(len(shown) - 1, 0), "page": page, "page_size": size,
            "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if start + size < len(found) else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
        }

    # -- recorded sends ----------------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["sid"]]

    def messages_to(self, phone: str) -> list[dict[str, Any]]:
        """Created messages to a number, given as +E164 or whatsapp:+E164."""
        return [m for m in self.messages if _bare(m["To"] or "") == _bare(phone)]

    def message(self, sid: str) -> dict[str, Any]:
        for m in self.messages:
            if m["sid"] == sid:
                return m
        raise LookupError(f"no message {sid} was created; created: {[m['sid'] for m in self.messages]}")

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                       interval: float = 0.01) -> Any:
        """Poll `predicate` until it returns something truthy (returned), at most `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"not met within {timeout}s; sends so far: {self.requests!r}")
            await asyncio.sleep(interval)

    async def wait_for_messages(self, count: int = 1, *, to: str | None = None,
                                timeout: float = 10.0) -> list[dict[str, Any]]:
        """At least `count` created messages (to `to`, if given); returns them all."""
        def found() -> list[dict[str, Any]] | None:
            messages = self.messages_to(to) if to else self.messages
            return messages if len(messages) >= count else None
        return await self.wait_for(found, timeout)

    # -- webhooks to the app -----------------------------------------------------------------
    async def send_status_callback(self, message_sid: str, status: str, error_code: int | None = None,
                                   url: str | None = None, *, signed_url: str | None = None,
                                   post_url: str | None = None, extra: dict[str, str] | None = None) -> int:
        """Post a status callback for a created message, as Twilio does, and return the app's
        HTTP status. `url` is where to sign for and post to, by default the StatusCallback the
        send gave. The app checks signatures against its PUBLIC_BASE_URL, which in tests is not
        where it listens: then sign for `signed_url` and post to `post_url` (each defaults to `url`)."""
        message = next((m for m in self.messages if m["sid"] == message_sid), None)
        signed = signed_url or url or (message and message["StatusCallback"])
        target = post_url or url or signed
        if not signed or not target:
            raise ValueError(f"no StatusCallback recorded for {message_sid}; pass url= or signed_url=")
        to = message["To"] if message else SHOP_WHATSAPP
        sender = message["From"] if message else SHOP_WHATSAPP
        form = {"MessageSid": message_sid, "SmsSid": message_sid, "MessageStatus": status,
                "SmsStatus": status, "AccountSid": self.account_sid, "To": to, "From": sender or "",
                "ApiVersion": API_VERSION}
        if to.startswith("whatsapp:"):
            form.update(ChannelPrefix="whatsapp", ChannelInstallSid=new_sid("XE"),
                        ChannelToAddress=_bare(to), StructuredMessage="false")
            if status in ("delivered", "read"):
                form["EventType"] = status.upper()
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        form.update(extra or {})
        answer, _ = await post_signed(self._session, target, signed, form, self.auth_token)
        self.callbacks.append({**form, "signed_url": signed, "post_url": target, "answer": answer})
        return answer

    def inbound_form(self, from_phone: str, body: str = "", *,
                     attachments: Iterable[tuple[bytes, str]] = (), **options: Any) -> dict[str, str]:
        """inbound_form() for this account. attachments: (content, content_type) pairs, hosted
        here as the message's media so the app can download them."""
        attachments = list(attachments)
        if attachments:
            sid = options.setdefault("message_sid", new_sid("MM"))
            options["media"] = [*options.get("media", ()), *[
                (self.add_media(f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media/{new_sid('ME')}",
                                content, content_type), content_type)
                for content, content_type in attachments]]
        return inbound_form(from_phone, body, account_sid=self.account_sid, **options)

    # -- media -------------------------------------------------------------------------------
    def add_media(self, path: str | None, content: bytes, content_type: str, *,
                  missing_times: int = 0, redirect_to: str | None = None) -> str:
        """Host `content` at `path` (None: a new …/Messages/MM…/Media/ME… path) behind basic auth;
        the first `missing_times` authorised downloads answer 404, as Twilio does while media is
        still being stored. With `redirect_to`, authorised downloads answer 307 to that URL, as
        Twilio redirects to its media storage. Returns the full URL, as Twilio puts it in MediaUrl0."""
        path = path or (f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{new_sid('MM')}"
                        f"/Media/{new_sid('ME')}")
        path = re.sub(r"^https?://[^/]+", "", path)
        self._media[path] = {"content": content, "content_type": content_type, "missing": missing_times,
                             "redirect_to": redirect_to}
        return f"{self.base_url}{path}"

    async def _media_file(self, request: web.Request) -> web.Response:
        media = self._media.get(request.path)
        if not self._authorized(request):
            response = twilio_error(20003)
        elif media is None or media["missing"] > 0:
            if media is not None:
                media["missing"] -= 1
            response = twilio_error(20404, path=request.path)
        elif media["redirect_to"]:
            response = web.Response(status=307, headers={"Location": media["redirect_to"]})
        else:
            response = web.Response(body=media["content"], content_type=media["content_type"])
        self.media_requests.append({"path": request.path, "status": response.status, "at": time.time(),
                                    "authorized": self._authorized(request)})
        return response


def _to(phone: str | None) -> Callable[[dict], bool] | None:
    return None if phone is None else (lambda form: _bare(form["To"] or "") == _bare(phone))


def _shown_body(form: dict) -> str:
    """The body Twilio shows: as sent, or for a template its text with the variables filled in
    (the fake has no template texts, so the variables alone, in order)."""
    if not form["ContentSid"]:
        return form["Body"] or ""
    variables = json.loads(form["ContentVariables"] or "{}")
    return " | ".join(str(variables[k]) for k in sorted(variables, key=lambda k: (len(k), k)))


def _refusal(form: dict) -> int | None:
    """The checks Twilio makes on every send, so the fake refuses what Twilio would."""
    if not form["To"]:
        return 21604
    if not form["From"] and not form["MessagingServiceSid"]:
        return 21603
    if not (form["Body"] or form["ContentSid"] or form["MediaUrl"]):
        return 21619
    if len(form["Body"] or "") > MAX_BODY_CHARS:
        return 21617
    if form["ContentVariables"] is not None:
        try:
            if not isinstance(json.loads(form["ContentVariables"]), dict):
                return 21656
        except ValueError:
            return 21656
    if form["From"] and form["From"].startswith("whatsapp:") != form["To"].startswith("whatsapp:"):
        return 21910
    return None
