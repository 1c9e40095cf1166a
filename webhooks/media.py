"""Receipt downloads (CONTRACT §4): after the message that brought a receipt is committed, fetch
its media from Twilio, keep it under MEDIA_DIR by SHA-256, and record it on the payment proof.

The webhook never waits for this: `ReceiptFetcher.fetch_for(message_id)` starts a task and
returns, and the customer's answer is already queued. Nothing here runs inside a transaction
while the network is in use; a download that fails is recorded on the proof (`download_error`,
and a `download_failed` flag) and the proof keeps the customer's text. A restart picks up the
receipts it had not got to yet.

What is fetched, and with what (an attacker who could put a URL into MediaUrl0 must not make
us send the account's credentials anywhere, or fetch anything at all from another host):

- The first request goes only to the origin TWILIO_API_BASE_URL names (same scheme, host and
  port) and only to this account's media path
  (`/2010-04-01/Accounts/<TWILIO_ACCOUNT_SID>/Messages/<sid>/Media/<sid>`). It carries the
  account's credentials as HTTP basic auth. Any other URL is refused before any connection.
- Twilio answers media with a redirect to its media storage. Redirects are followed by hand
  (at most MAX_REDIRECTS): back to the API origin with the credentials; to Twilio's storage
  (`MEDIA_STORAGE_HOSTS`, https on port 443 only) without them, since the storage URL is signed
  itself; anywhere else (another host, plain http, an IP address, a URL with a user name) not
  at all, and the receipt is recorded as not kept.
- A 404 is Twilio's "not stored yet": it, a 429, a 5xx, a time-out or a dropped connection is
  retried after RETRY_DELAYS (bounded: four tries in about 3.5 seconds). Anything else is final.
- A file over MAX_RECEIPT_BYTES is not kept (checked on Content-Length and while reading).
"""
from __future__ import annotations

import asyncio
import base64
import logging
import re

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from yarl import URL

from bot import contacts
from core import inbox, logcontext, receipts
from webhooks import keys

log = logging.getLogger("orderdesk.media")

MAX_RECEIPT_BYTES = 10 * 1024 * 1024
MAX_CARD_BYTES = 64 * 1024   # a contact card is read from its first 64 KiB
RETRY_DELAYS = (0.5, 1.0, 2.0)
REQUEST_TIMEOUT_S = 20
MAX_REDIRECTS = 3
CONCURRENT_DOWNLOADS = 4
SHUTDOWN_GRACE_S = 5.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRIED = frozenset({404, 408, 429, 500, 502, 503, 504})
# Where Twilio keeps media and redirects media URLs to: names only, https only, never credentialed.
MEDIA_STORAGE_HOSTS = frozenset({"mms.twiliocdn.com", "media.twiliocdn.com", "s3-external-1.amazonaws.com"})
MEDIA_STORAGE_SUFFIX = ".twiliocdn.com"
_MEDIA_PATH = r"/2010-04-01/Accounts/{sid}/Messages/[A-Za-z0-9]{{10,64}}/Media/[A-Za-z0-9]{{10,64}}"


class NotKept(Exception):
    """Why a receipt could not be kept, in words an admin can act on; `retry` when worth another try."""

    def __init__(self, why: str, *, retry: bool = False) -> None:
        super().__init__(why)
        self.why, self.retry = why, retry


def source_problem(url: str, api_base_url: str, account_sid: str) -> str | None:
    """Why `url` must not be fetched with the account's credentials; None when it may be."""
    try:
        target, api = URL(url), URL(api_base_url)
    except (ValueError, TypeError):
        return "the media URL is not a URL"
    if not target.absolute or not target.host:
        return "the media URL is not a URL"
    if target.user is not None or target.password is not None:
        return "the media URL carries a user name"
    if (target.scheme, target.host, target.port) != (api.scheme, api.host, api.port):
        return f"the media URL's host {target.host} is not the Twilio API host {api.host}"
    if not re.fullmatch(_MEDIA_PATH.format(sid=re.escape(account_sid)), target.path):
        return "the media URL is not one of this account's media"
    return None


def redirect_policy(target: URL, api_base_url: str) -> tuple[str | None, bool]:
    """(why not, with credentials) for a redirect from Twilio to `target`."""
    api = URL(api_base_url)
    if not target.absolute or not target.host:
        return "Twilio redirected to something that is not a URL", False
    if target.user is not None or target.password is not None:
        return "Twilio redirected to a URL with a user name", False
    if (target.scheme, target.host, target.port) == (api.scheme, api.host, api.port):
        return None, True
    storage = target.host in MEDIA_STORAGE_HOSTS or target.host.endswith(MEDIA_STORAGE_SUFFIX)
    if target.scheme != "https" or target.port != 443 or not storage:
        return f"Twilio redirected to {target.scheme}://{target.host}, which is not its media storage", False
    return None, False


class ReceiptFetcher:
    """Downloads receipts in the background; one per app, started and stopped by `receipts_ctx`."""

    def __init__(self, uow, settings, session: ClientSession, *, delays: tuple[float, ...] = RETRY_DELAYS,
                 max_bytes: int = MAX_RECEIPT_BYTES) -> None:
        self.uow, self.settings, self.session = uow, settings, session
        self.delays, self.max_bytes = delays, max_bytes
        credentials = f"{settings.twilio_account_sid}:{settings.twilio_auth_token}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._slots = asyncio.Semaphore(CONCURRENT_DOWNLOADS)
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    def fetch_for(self, message_id: int | None) -> None:
        """Download the receipts of a stored, processed message; returns at once. While shutting
        down it does nothing: the proofs stay pending and the next start fetches them."""
        if self._closing:
            return
        self._start(self._fetch_pending(message_id), name=f"receipts-{message_id or 'resume'}")

    async def close(self) -> None:
        """Give running downloads a moment, then stop them; what they held is resumed after restart."""
        self._closing = True
        running = {task for task in self._tasks if not task.done()}
        if running:
            _, stuck = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_S)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck)

    def _start(self, work, *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch_pending(self, message_id: int | None) -> None:
        # A background task must never die silently; what fails here stays pending for a restart.
        try:
            async with self.uow() as tx:
                waiting = await receipts.pending(tx, message_id=message_id)
        except Exception:
            log.exception("receipts of inbound message %s could not be looked up", message_id)
            return
        for receipt in waiting:
            with logcontext.bound(reference=receipt.reference, message_sid=receipt.message_sid,
                                  request_id=receipt.request_id):
                async with self._slots:
                    try:
                        await self._fetch_one(receipt.proof_id, receipt.url, receipt.content_type or "")
                    except Exception:
                        log.exception("receipt of proof %s could not be kept; it is tried again after a restart",
                                      receipt.proof_id)
        await self._read_contacts(message_id)

    async def _read_contacts(self, message_id: int | None) -> None:
        """Contact cards (CONTRACT §4): each message's vCards downloaded like receipts, then the admins
        told the names and numbers, once; a card that cannot be fetched is relayed saying why."""
        try:
            async with self.uow() as tx:
                waiting = [(m.id, [x["url"] for x in m.media if contacts.is_contact_media(x.get("contentType", ""))])
                           for m in await inbox.with_unread_contacts(tx, message_id)]
        except Exception:
            log.exception("contact cards of inbound message %s could not be looked up", message_id)
            return
        for waiting_id, urls in waiting:
            cards, problem = [], None
            async with self._slots:
                for url in urls[:contacts.MAX_CARDS]:
                    try:
                        content, _ = await self.download(url)
                        cards += contacts.read_cards(content[:MAX_CARD_BYTES].decode("utf-8", "replace"))
                    except NotKept as exc:
                        problem = exc.why
            try:
                async with self.uow() as tx:
                    message = await inbox.locked(tx, waiting_id)
                    if message is not None and (message.details or {}).get("contacts") == "pending":
                        await contacts.relay_cards(tx, message, cards[:contacts.MAX_CARDS], problem)
                        await inbox.save(tx, message)
                        await tx.commit()
            except Exception:
                log.exception("contact cards of inbound message %s could not be relayed", waiting_id)

    async def _fetch_one(self, proof_id: int, url: str, content_type: str) -> None:
        try:
            content, served_type = await self.download(url)
            sha256, path = await asyncio.to_thread(receipts.store_file, self.settings.media_dir, content,
                                                   content_type or served_type)
        except NotKept as exc:
            log.warning("receipt of proof %s not kept: %s", proof_id, exc.why)
            async with self.uow() as tx:
                await receipts.not_kept(tx, proof_id, exc.why)
                await tx.commit()
            return
        async with self.uow() as tx:
            reused = await receipts.keep(tx, proof_id, sha256=sha256, path=path, size=len(content),
                                         content_type=content_type or served_type)
            await tx.commit()
        log.info("receipt of proof %s kept as %s%s", proof_id, path, f" (reused from {reused})" if reused else "")

    async def download(self, url: str) -> tuple[bytes, str]:
        """The media's bytes and content type, or NotKept saying why."""
        problem = source_problem(url, self.settings.twilio_api_base_url, self.settings.twilio_account_sid or "")
        if problem:
            raise NotKept(f"not fetched: {problem}")
        for attempt, delay in enumerate((0.0, *self.delays)):
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._get(URL(url))
            except NotKept as exc:
                if not exc.retry:
                    raise
                if attempt == len(self.delays):
                    raise NotKept(f"{exc.why}, {attempt + 1} tries") from None

    async def _get(self, url: URL) -> tuple[bytes, str]:
        credentials = True
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Authorization": self._authorization} if credentials else {}
            try:
                async with self.session.get(url, headers=headers, allow_redirects=False,
                                            timeout=ClientTimeout(total=REQUEST_TIMEOUT_S)) as response:
                    if response.status in REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise NotKept("Twilio answered a redirect without saying where to")
                        try:
                            target = url.join(URL(location))
                        except ValueError:
                            raise NotKept("Twilio redirected to something that is not a URL") from None
                        problem, credentials = redirect_policy(target, self.settings.twilio_api_base_url)
                        if problem:
                            raise NotKept(problem)
                        url = target
                        continue
                    if response.status != 200:
                        raise NotKept(f"Twilio answered {response.status}", retry=response.status in RETRIED)
                    return await self._read(response), response.content_type
            except (asyncio.TimeoutError, ClientError, OSError) as exc:
                raise NotKept(f"no answer from Twilio ({type(exc).__name__})", retry=True) from None
        raise NotKept(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response) -> bytes:
        too_big = NotKept(f"the file is larger than {self.max_bytes // (1024 * 1024)} MiB")
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise too_big
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)


async def receipts_ctx(app: web.Application):
    """cleanup_ctx: the fetcher and its HTTP session. Without Twilio credentials (console mode)
    there is nothing to fetch with: receipts stay as proofs with their media URL."""
    settings = app[keys.SETTINGS]
    if not settings.twilio_enabled:
        yield
        return
    session = ClientSession()
    fetcher = ReceiptFetcher(app[keys.UOW], settings, session)
    app[keys.RECEIPTS] = fetcher
    fetcher.fetch_for(None)  # what a previous run had not got to
    yield
    await fetcher.close()
    await session.close()
