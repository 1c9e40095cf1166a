"""Claims about processes, shown with real `orderdesk serve` processes: a crash (kill -9) loses no
queued message and sends none twice, its messages go out within 30 s (restarted, or by a survivor),
and two servers on one PostgreSQL send each message and run each job once."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import text

from core.db import make_engine
from tests.conftest import ADMIN_PHONE, run_blocking, _truncate
from tests.fake_twilio import MAX_HANG, sign
from tests.live_server import _SCRUB, free_port

CUSTOMERS = [f"+2547120000{n:02d}" for n in range(6)]


class Server:
    """One `orderdesk serve` process with the given settings; `kill()` is kill -9."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    async def start(self) -> Server:
        """Start it and wait for /health. A process that exits first (its port was taken meanwhile by
        another test run's process) is started again on another port, so its /health is never theirs."""
        for _ in range(3):
            with (self.workdir / f"serve-{self.port}.log").open("w") as log:
                self.process = subprocess.Popen([sys.executable, "-m", "orderdesk", "serve", "--port", str(self.port)],
                                                cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            if await self._answers():
                return self
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise AssertionError(f"orderdesk serve exited at start three times; see {self.workdir}/serve-*.log")

    async def _answers(self) -> bool:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # 60 s: a first start on a loaded machine compiles every module
                if self.process.poll() is not None:
                    return False
                try:
                    async with http.get(f"{self.url}/health") as response:
                        if response.status == 200 and self.process.poll() is None:
                            return True
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"server on {self.port} did not answer /health within 60 s")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cli(workdir: Path, env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "orderdesk", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def environment(database_url: str, twilio, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(DATABASE_URL=database_url, TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN=twilio.auth_token,
               TWILIO_API_BASE_URL=twilio.base_url, PUBLIC_BASE_URL="https://shop.example.com",
               ADMIN_PHONES=ADMIN_PHONE, DEFAULT_REGION="KE", DAILY_DIGEST_AT="off", **extra)
    return env


async def say(http, server: Server, twilio, phone: str, body: str) -> None:
    form = twilio.inbound_form(phone, body)
    signature = sign("https://shop.example.com/webhooks/twilio/whatsapp", form, twilio.auth_token)
    async with http.post(f"{server.url}/webhooks/twilio/whatsapp", data=form,
                         headers={"X-Twilio-Signature": signature}) as response:
        assert response.status == 200


async def query(database_url: str, sql: str) -> list:
    """Read the servers' database, as an operator would."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: sync.execute(text(sql)).all())
    finally:
        await engine.dispose()


async def until(read, ok, timeout: float):
    """Read until `ok(value)`, at most `timeout` s; returns the value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ok(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r} after {timeout}s"
        await asyncio.sleep(0.05)
    return value


async def all_sent(database_url: str, timeout: float) -> float:
    """Until no outbound message waits (queued, or claimed without a SID); returns the loop time then."""
    await until(lambda: query(database_url, "SELECT id, status FROM outbound_messages WHERE twilio_sid IS NULL "
                                            "AND status IN ('queued', 'sending')"), lambda rows: rows == [], timeout)
    return asyncio.get_running_loop().time()


async def sent_once(database_url: str, twilio) -> None:
    """Every message at Twilio is recorded on exactly one outbox row, and every sent row is at Twilio."""
    recorded = [sid for (sid,) in await query(database_url, "SELECT twilio_sid FROM outbound_messages "
                                                            "WHERE twilio_sid IS NOT NULL")]
    at_twilio = [m["sid"] for m in twilio.messages]
    assert sorted(recorded) == sorted(at_twilio), (recorded, [(m["To"], m["Body"]) for m in twilio.messages])


async def crash_point(http, server: Server, twilio, database_url: str) -> None:
    """Bring `server` to the moment worth killing it in. Its sender's pass holds: for CUSTOMERS[0], a
    send Twilio accepted but has not answered, and a message claimed behind it, not yet sent; for
    CUSTOMERS[1:4], sends Twilio answered that the server has not recorded yet (it records a pass
    at its end)."""
    blocker, first, others = CUSTOMERS[5], CUSTOMERS[0], CUSTOMERS[1:4]
    twilio.withhold_next(to=blocker)  # holds the sender's pass while the replies below are queued
    twilio.withhold_next(to=first)  # then this one is in flight at the crash
    await say(http, server, twilio, blocker, "hello")
    await twilio.wait_for(lambda: twilio.messages_to(blocker), timeout=30.0)
    for phone, body in [(first, "hello"), (first, "LEG-1738704998-X7K2"), *[(phone, "hello") for phone in others]]:
        await say(http, server, twilio, phone, body)
    await until(lambda: query(database_url, "SELECT count(*) FROM inbound_messages WHERE processed_at IS NULL"),
                lambda rows: rows[0][0] == 0, timeout=30.0)  # every reply is queued
    twilio.release_withheld()  # the blocker's send ends unanswered; the next pass claims the replies at once
    await twilio.wait_for(lambda: len(twilio.messages_to(first)) == 1
                          and all(twilio.messages_to(phone) for phone in others), timeout=30.0)


async def test_a_crash_mid_send_sends_nothing_twice_and_the_rest_within_30_s(tmp_path, twilio):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'orderdesk.db'}"
    env = environment(database_url, twilio)
    await asyncio.to_thread(cli, tmp_path, env, "db", "upgrade")
    server = await Server(tmp_path, env).start()
    loop = asyncio.get_running_loop()
    try:
        async with aiohttp.ClientSession() as http:
            await crash_point(http, server, twilio, database_url)

            server.kill()  # kill -9: the answer to CUSTOMERS[0] never reaches it
            crashed = loop.time()
            server = await Server(tmp_path, env).start()
            restarted = loop.time()
            done = await all_sent(database_url, timeout=30.0)

        await sent_once(database_url, twilio)
        assert len(twilio.messages_to(CUSTOMERS[0])) == 2 and twilio.lookups  # the one behind went too
        print(f"restart took {restarted - crashed:.1f} s; all sent {done - restarted:.1f} s after it")
        assert done - crashed < 30
    finally:
        server.stop()


async def test_a_message_queued_before_a_crash_is_sent_after_the_restart(tmp_path, twilio):
    env = environment(database_url := f"sqlite+aiosqlite:///{tmp_path / 'orderdesk.db'}", twilio)
    await asyncio.to_thread(cli, tmp_path, env, "db", "upgrade")
    twilio.hang_next(seconds=MAX_HANG, to=CUSTOMERS[0])  # Twilio is down: no answer, then a 503
    server = await Server(tmp_path, env).start()
    try:
        async with aiohttp.ClientSession() as http:
            await say(http, server, twilio, CUSTOMERS[0], "hello")
        await twilio.wait_for(lambda: twilio.requests, timeout=30.0)

        server.kill()  # kill -9 while the reply's send waits for Twilio
        server = await Server(tmp_path, env).start()  # Twilio is back
        await all_sent(database_url, timeout=30.0)

        [sent] = twilio.messages_to(CUSTOMERS[0])
        assert "Send your order reference" in sent["Body"]
        await sent_once(database_url, twilio)
    finally:
        server.stop()


async def test_two_servers_on_one_postgresql_send_each_message_and_run_each_job_once(tmp_path, twilio, request):
    database_url = request.getfixturevalue("postgres_database")
    run_blocking(_truncate(database_url))
    env = environment(database_url, twilio, PAYMENT_REMINDER_AFTER="1s", JOB_SWEEP_INTERVAL="1s")
    token = (await asyncio.to_thread(cli, tmp_path, env, "token", "create", "--role", "admin", "--name", "ops")
             ).strip().splitlines()[-1]
    await asyncio.to_thread(cli, tmp_path, env, "seed-demo")
    servers = [await Server(tmp_path, env).start(), await Server(tmp_path, env).start()]
    try:
        async with aiohttp.ClientSession() as http:
            await say(http, servers[0], twilio, ADMIN_PHONE, "help")  # everyone writes first: windows open
            for i, phone in enumerate(CUSTOMERS):
                await say(http, servers[i % 2], twilio, phone, "hi")
            references = []
            for i, phone in enumerate(CUSTOMERS):
                async with http.post(f"{servers[i % 2].url}/api/orders/", json={
                        "customerName": f"Customer {i}", "customerPhone": phone,
                        "items": [{"productId": "7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a01", "quantity": 1}]}) as response:
                    assert response.status == 201
                    references.append((await response.json())["orderReference"])

            # help (1) + menus (6) + new-order alerts (6) + one reminder per order (6), from either server
            await twilio.wait_for_messages(19, timeout=20.0)
            await asyncio.sleep(3.0)  # several more sweeps on both servers

            sends = Counter((m["To"], m["Body"]) for m in twilio.messages)
            for phone, reference in zip(CUSTOMERS, references):
                reminders = [m for m in twilio.messages_to(phone) if "waiting for payment" in m["Body"]]
                assert len(reminders) == 1 and reference in reminders[0]["Body"]
            assert len(twilio.messages_to(ADMIN_PHONE)) == 1 + len(CUSTOMERS)
            assert all(count == 1 for count in sends.values()), sends.most_common(3)
            assert len(twilio.messages) == 19
            async with http.get(f"{servers[0].url}/api/orders/?limit=100",
                                headers={"Authorization": f"Bearer {token}"}) as response:
                assert (await response.json())["count"] == len(CUSTOMERS)
    finally:
        for server in servers:
            server.stop()


async def test_a_survivor_sends_what_a_killed_server_held_within_30_s_and_nothing_twice(tmp_path, twilio, request):
    database_url = request.getfixturevalue("postgres_database")
    run_blocking(_truncate(database_url))
    env = environment(database_url, twilio)
    doomed, survivor = await Server(tmp_path, env).start(), None
    loop = asyncio.get_running_loop()
    try:
        async with aiohttp.ClientSession() as http:
            await crash_point(http, doomed, twilio, database_url)
            survivor = await Server(tmp_path, env).start()

            doomed.kill()  # kill -9: its claims stay in the database until their lease runs out
            crashed = loop.time()
            done = await all_sent(database_url, timeout=30.0)

        await sent_once(database_url, twilio)
        assert len(twilio.messages_to(CUSTOMERS[0])) == 2 and twilio.lookups
        print(f"the survivor sent all {done - crashed:.1f} s after the crash")
        assert done - crashed < 30
    finally:
        for server in (doomed, survivor):
            if server is not None:
                server.stop()


async def test_a_message_stored_but_never_handled_is_answered_at_the_next_start(
        aiohttp_client, wa_settings, twilio, uow, clock):

    from core import inbox
    from webhooks.app import create_app

    async with uow() as tx:  # a process stored it, then died before the bot ran
        await inbox.store(tx, message_sid="SM" + "7" * 32, from_phone=f"whatsapp:{CUSTOMERS[0]}", body="hello",
                          media=[], wa_id=CUSTOMERS[0][1:], profile_name="Amina")
        await tx.commit()
    clock.advance(minutes=2)

    await aiohttp_client(create_app(wa_settings, clock=clock, sweep_seconds=0.1))

    [menu] = await twilio.wait_for_messages(1, to=CUSTOMERS[0], timeout=5.0)
    assert "Send your order reference" in menu["Body"]
