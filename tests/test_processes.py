"""Claims about processes, shown with real `orderdesk serve` processes: a crash loses no queued
message, and two servers on one PostgreSQL send each message and run each job once."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ADMIN_PHONE, run_blocking, _truncate
from tests.fake_twilio import sign
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
        log = (self.workdir / f"serve-{self.port}.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "orderdesk", "serve", "--port", str(self.port)],
                                        cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"server on {self.port} did not start")

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


async def test_a_message_queued_before_a_crash_is_sent_after_the_restart(tmp_path, twilio):
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'orderdesk.db'}", twilio)
    await asyncio.to_thread(cli, tmp_path, env, "db", "upgrade")
    twilio.fail_next(1000, status=503)  # Twilio is down
    server = await Server(tmp_path, env).start()
    try:
        async with aiohttp.ClientSession() as http:
            await say(http, server, twilio, CUSTOMERS[0], "hello")
        await twilio.wait_for(lambda: [r for r in twilio.requests if r["status"] == 503], timeout=5.0)

        server.kill()  # kill -9 while the reply waits for its next try
        twilio.clear_script()  # Twilio is back
        server = await Server(tmp_path, env).start()

        [sent] = await twilio.wait_for_messages(1, to=CUSTOMERS[0], timeout=15.0)
        assert "Send your order reference" in sent["Body"]
        await asyncio.sleep(1.0)
        assert len(twilio.messages_to(CUSTOMERS[0])) == 1
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


async def test_a_message_stored_but_never_handled_is_answered_at_the_next_start(
        aiohttp_client, wa_settings, twilio, uow, clock):
    from datetime import timedelta

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
