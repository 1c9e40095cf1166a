"""What a real server's log shows (issue 12): no full phone number and no token, whatever passes
through it — a checkout, a customer's message naming a number, the console transport's lines."""
from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
import urllib.parse
import urllib.request

import aiohttp

from tests.fake_twilio import FakeTwilio, sign
from tests.live_server import LiveServer
from tests.test_processes import Server, cli, environment, until

CUSTOMER, ADMIN, OTHER = "+254712345678", "+254700000001", "0733 444 555"


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-9:]  # the national number, however the line writes the prefix


def _whatsapp(server: LiveServer, sid: int, phone: str, body: str, request_id: str | None = None) -> None:
    """An inbound message, unsigned: the console mode checks no signatures."""
    form = {"MessageSid": f"SM{sid:032d}", "From": f"whatsapp:{phone}", "ProfileName": "Amina", "Body": body}
    request = urllib.request.Request(server.url + "/webhooks/twilio/whatsapp", method="POST",
                                     data=urllib.parse.urlencode(form).encode(),
                                     headers={"X-Request-ID": request_id} if request_id else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"] == (request_id or response.headers["X-Request-ID"])


def test_a_servers_log_holds_no_full_phone_number_and_no_token(tmp_path):
    with LiveServer(tmp_path, ADMIN_PHONES=ADMIN) as server:
        _whatsapp(server, 1, ADMIN, "help")  # the admin's window opens, so alerts go to them
        _, _, products = server.get("/api/products/")
        product = (products["results"] if isinstance(products, dict) else products)[0]
        status, _, order = server.request("POST", "/api/orders/", {
            "customerName": "Amina Otieno", "customerPhone": CUSTOMER, "customerAddress": "Moi Ave 12",
            "items": [{"productId": product["id"], "quantity": 1}]})
        assert status == 201, order
        _whatsapp(server, 2, CUSTOMER, f"I have paid for {order['orderReference']}, my other number is {OTHER}")
        # The admin's help and new-order alert, the customer's acknowledgement, the admin's payment alert.
        deadline = time.monotonic() + 10
        while server.log().count("WhatsApp to") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log()

    assert log.count("WhatsApp to") >= 4, log
    assert "+•••678" in log and "+•••001" in log  # who got what stays readable
    for secret in (_digits(CUSTOMER), _digits(ADMIN), _digits(OTHER), server.admin_token):
        assert secret not in log.replace(" ", ""), f"{secret!r} in the log:\n{log}"


def test_json_logs_are_one_object_a_line_naming_what_each_is_about(tmp_path):
    with LiveServer(tmp_path, ADMIN_PHONES=ADMIN, LOG_FORMAT="json") as server:
        _whatsapp(server, 1, ADMIN, "help", request_id="edge-42")
        deadline = time.monotonic() + 10
        while "WhatsApp to" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log()
        with sqlite3.connect(tmp_path / "orderdesk.db") as db:
            [(kept,)] = db.execute("SELECT request_id FROM inbound_messages").fetchall()

    lines = [json.loads(line) for line in log.splitlines()]
    [reply] = [line for line in lines if line["message"].startswith("WhatsApp to")]
    assert reply["level"] == "INFO" and reply["logger"] == "orderdesk.sender" and reply["outbound_id"] >= 1
    assert reply["request_id"] == "edge-42"  # the reply's sending logs under the webhook's id
    assert "+•••001" in reply["message"] and _digits(ADMIN) not in log
    assert kept == "edge-42"  # kept with the message: its later processing logs under the webhook's id


async def test_the_lines_about_an_order_carry_its_reference_message_sid_and_the_request_that_began_it(tmp_path):
    async with FakeTwilio() as twilio, aiohttp.ClientSession() as http:
        env = environment(f"sqlite:///{tmp_path}/orderdesk.db", twilio, LOG_FORMAT="json")
        cli(tmp_path, env, "db", "upgrade")
        cli(tmp_path, env, "seed-demo")
        server = await Server(tmp_path, env).start()
        try:
            async with http.get(f"{server.url}/api/products/") as response:
                product = (await response.json())[0]
            async with http.post(f"{server.url}/api/orders/", json={
                    "customerName": "Amina Otieno", "customerPhone": CUSTOMER, "customerAddress": "Moi Ave 12",
                    "items": [{"productId": product["id"], "quantity": 1}]}) as response:
                reference = (await response.json())["orderReference"]
            twilio.fail_next(to=CUSTOMER)  # the acknowledgement's first try: a line says it is retried
            # A receipt that is not this account's media is not downloaded: a line says so.
            form = twilio.inbound_form(CUSTOMER, f"paid {reference}", message_sid=f"SM{7:032d}",
                                       media=[("http://127.0.0.1:9/receipt.jpg", "image/jpeg")])
            signature = sign("https://shop.example.com/webhooks/twilio/whatsapp", form, twilio.auth_token)
            async with http.post(f"{server.url}/webhooks/twilio/whatsapp", data=form,
                                 headers={"X-Twilio-Signature": signature, "X-Request-ID": "pay-7"}) as response:
                assert response.status == 200

            async def acknowledged() -> int:
                return len(twilio.messages_to(CUSTOMER))
            await until(acknowledged, lambda n: n >= 1, timeout=10)
        finally:
            server.stop()
        lines = [json.loads(line) for line in (tmp_path / f"serve-{server.port}.log").read_text().splitlines()]

    [receipt] = [line for line in lines if "not kept" in line["message"]]
    assert (receipt["reference"], receipt["message_sid"], receipt["request_id"]) == (reference, f"SM{7:032d}", "pay-7")
    [retried] = [line for line in lines if "retry" in line["message"]]
    assert retried["request_id"] == "pay-7" and retried["outbound_id"] >= 1


def test_other_libraries_log_at_warning_and_never_the_rows_a_query_returns():
    from core.settings import Settings
    from orderdesk import logs

    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        logs.configure(Settings(_env_file=None, log_level="info"))
        quiet = {name: logging.getLogger(name).getEffectiveLevel()
                 for name in ("twilio.http_client", "aiohttp.access", "sqlalchemy.engine.Engine")}
        logs.configure(Settings(_env_file=None, log_level="debug"))
        engine, rows = (logging.getLogger("sqlalchemy.engine.Engine").getEffectiveLevel(),
                        logging.getLogger("sqlalchemy.orm.mapper.Mapper").getEffectiveLevel())
    finally:
        root.handlers[:] = kept[0]
        root.setLevel(kept[1])
        for name in logs.THIRD_PARTY + ("sqlalchemy.engine",):
            logging.getLogger(name).setLevel(logging.NOTSET)

    assert set(quiet.values()) == {logging.WARNING}
    assert engine == logging.INFO  # statements (parameters hidden), not the DEBUG lines that print rows
    assert rows == logging.WARNING
