"""The signed inbound-webhook phases of `make bench`, run in bench.py's own process beside the fake
Twilio (tests/fake_twilio.py) that the server sends its replies to.

Every message is a WhatsApp "Hi" from a phone used once (so the bot's reply, a menu, is matched to
its message by recipient), in Twilio's form fields, with X-Twilio-Signature computed for
PUBLIC_BASE_URL + /webhooks/twilio/whatsapp. A reply counts when the fake Twilio accepted it (201);
its time is when the send reached the fake.

burst: `concurrency` senders back to back for `burst_seconds` (closed loop); each answer must be
  200 with an empty TwiML <Response/>. Then waits (at most MAX_WAIT_S) for one reply per answered
  message and reports how long after the burst's last answer the last reply arrived.
paced: open loop, one message every 1/rate s for `paced_seconds`, whatever the answers do; latency
  from the message's scheduled send time to its reply at the fake Twilio, and the messages that got
  no reply within MAX_WAIT_S of the last send (dropped).
"""
from __future__ import annotations

import asyncio
import time

from bench_driver import BIG, run_phase

WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
ANSWER_TIMEOUT_S = 15  # Twilio gives up on a webhook after 15 s
MAX_WAIT_S = 90  # for the replies after a phase
MAX_IN_FLIGHT = 1000  # open connections of the paced phase


def empty_twiml(status: int, body: bytes) -> bool:
    return status == 200 and body.rstrip().endswith(b"<Response/>")


class Replies:
    """The fake Twilio's accepted sends by recipient, indexed as they arrive: the first per phone."""

    def __init__(self, fake) -> None:
        self.fake = fake
        self.first: dict[str, float] = {}  # phone -> time.time() the reply reached the fake
        self.extra = self.refused = 0
        self._read = 0

    def update(self) -> None:
        requests = self.fake.requests
        while self._read < len(requests) and requests[self._read]["status"] is not None:
            sent = requests[self._read]
            self._read += 1
            phone = (sent["To"] or "").removeprefix("whatsapp:")
            if sent["status"] != 201:
                self.refused += 1
            elif phone in self.first:
                self.extra += 1
            else:
                self.first[phone] = sent["at"]

    async def wait_for(self, phones, deadline: float) -> bool:
        """True once every phone has a reply; False at `deadline` (monotonic)."""
        missing = set(phones)
        while True:
            self.update()
            missing -= self.first.keys()
            if not missing:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)


def signed_post(http, fake, public_url: str):
    """post(phone) -> (status, body): one signed inbound "Hi" from `phone`."""
    from tests.fake_twilio import sign

    async def post(phone: str) -> tuple[int, bytes]:
        form = fake.inbound_form(phone, "Hi", profile_name=f"Bench {phone[-4:]}")
        headers = {"X-Twilio-Signature": sign(public_url, form, fake.auth_token), "User-Agent": "TwilioProxy/1.1"}
        async with http.post(WEBHOOK_PATH, data=form, headers=headers) as resp:
            return resp.status, await resp.read()

    return post


async def burst(post, replies: Replies, concurrency: int, seconds: float) -> dict:
    answered: list[str] = []

    async def one(i: int, _w: int) -> tuple[int, bytes]:
        phone = f"+25470{i:07d}"
        status, body = await post(phone)
        if empty_twiml(status, body):
            answered.append(phone)
        return status, body

    result = await run_phase(BIG, concurrency, time.monotonic() + seconds, one, ok=empty_twiml)
    ended = time.time()
    waited = time.monotonic()
    complete = await replies.wait_for(answered, waited + MAX_WAIT_S)
    got = [replies.first[p] for p in answered if p in replies.first]
    result.update(expected=len(answered), replied=len(got), complete=complete,
                  waited_s=time.monotonic() - waited,
                  last_reply_after_s=(max(got) - ended) if got else None)
    return result


async def paced(post, replies: Replies, rate: float, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    total = max(1, int(rate * seconds))
    interval = 1 / rate
    start = loop.time() + 0.1
    to_wall = time.time() - loop.time()  # loop time -> time.time(), the fake Twilio's clock
    scheduled: dict[str, float] = {}
    answers: list[float] = []
    failures: dict[str, int] = {}
    in_flight: set[asyncio.Task] = set()
    peak = 0
    lag = 0.0

    async def send(phone: str) -> None:
        began = time.perf_counter()
        try:
            status, body = await post(phone)
            failure = None if empty_twiml(status, body) else f"{status} {body[:120].decode(errors='replace')}"
        except Exception as exc:
            failure = f"no answer: {type(exc).__name__} {exc}"[:160]
        answers.append((time.perf_counter() - began) * 1000)
        if failure:
            failures[failure] = failures.get(failure, 0) + 1

    for k in range(total):  # never waits for an answer before the next send
        due = start + k * interval
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, loop.time() - due)
        phone = f"+25472{k:07d}"
        scheduled[phone] = due + to_wall
        task = asyncio.create_task(send(phone))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        peak = max(peak, len(in_flight))
    last_send = loop.time()
    waited = time.monotonic()
    await replies.wait_for(scheduled, waited + MAX_WAIT_S)
    if in_flight:  # answers still owed end at their ANSWER_TIMEOUT_S
        await asyncio.wait(in_flight, timeout=ANSWER_TIMEOUT_S + 5)
    latencies = [(replies.first[p] - t) * 1000 for p, t in scheduled.items() if p in replies.first]
    return {"planned": total, "requests": len(answers), "errors": sum(failures.values()),
            "seconds": last_send - start, "latencies_ms": answers,
            "error_samples": sorted(failures.items(), key=lambda kv: -kv[1])[:5],
            "reply_ms": latencies, "dropped": total - len(latencies), "max_lag_ms": lag * 1000,
            "peak_in_flight": peak, "waited_s": time.monotonic() - waited}


async def run(start_server, stop_server, cfg: dict) -> dict:
    """start_server(env) -> base URL and stop_server(), run in a thread: the server starts once the
    fake Twilio listens, with credentials and TWILIO_API_BASE_URL pointing at it, and stops before
    the fake does, so it never finds Twilio gone."""
    import aiohttp

    from tests.fake_twilio import FakeTwilio

    out: dict = {}
    async with FakeTwilio() as fake:
        try:
            base_url = await asyncio.to_thread(start_server, {
                "TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
                "TWILIO_API_BASE_URL": fake.base_url})
            public_url = base_url + WEBHOOK_PATH  # the server's PUBLIC_BASE_URL is where it listens
            replies = Replies(fake)
            timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S)
            if "burst" in cfg["phases"]:
                async with aiohttp.ClientSession(base_url, timeout=timeout,
                                                 connector=aiohttp.TCPConnector(limit=cfg["concurrency"])) as http:
                    out["burst"] = await burst(signed_post(http, fake, public_url), replies, cfg["concurrency"],
                                               cfg["burst_seconds"])
            if "paced" in cfg["phases"]:
                async with aiohttp.ClientSession(base_url, timeout=timeout,
                                                 connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)) as http:
                    out["paced"] = await paced(signed_post(http, fake, public_url), replies, cfg["rate"],
                                               cfg["paced_seconds"])
            replies.update()
            out["extra_replies"], out["refused_sends"] = replies.extra, replies.refused
        finally:
            await asyncio.to_thread(stop_server)
    return out
