"""The Twilio fake speaks what the real `twilio` library and Twilio's webhooks speak.

The other tests trust this fake in Twilio's place, so it is checked against the library itself:
the async client sends through it and parses its answers, and its signatures pass
RequestValidator for the URL the app checks against.
"""
import asyncio
import re

import pytest
from aiohttp import ClientSession, web
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fake_twilio import AUTH_TOKEN, SHOP_WHATSAPP, FakeTwilio, basic_auth, inbound_form, post_signed, sign

CUSTOMER = "whatsapp:+254712345678"
PUBLIC_STATUS_URL = "https://shop.example.com/webhooks/twilio/status"


@pytest.fixture
async def rest(twilio):
    """The real library's async client, pointed at the fake the way the app points it."""
    async with AsyncTwilioHttpClient() as http:
        client = Client(twilio.account_sid, twilio.auth_token, http_client=http)
        client.api.base_url = twilio.base_url
        yield client


@pytest.fixture
async def webhook_receiver():
    """A stand-in for the app's webhook: checks the signature against the public URL."""
    received = []

    async def handle(request: web.Request) -> web.Response:
        form = dict(await request.post())
        valid = RequestValidator(AUTH_TOKEN).validate(
            PUBLIC_STATUS_URL, form, request.headers.get("X-Twilio-Signature", ""))
        received.append(form)
        return web.Response(status=200 if valid else 403, text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/webhooks/twilio/status", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/webhooks/twilio/status", received
    await runner.cleanup()


async def send(rest, **fields):
    return await rest.messages.create_async(**{"to": CUSTOMER, "from_": SHOP_WHATSAPP, "body": "Hello", **fields})


async def test_a_send_through_the_real_client_is_recorded_and_parsed(twilio, rest):
    message = await send(rest, body="Your order LEG-1738704998-X7K2 is confirmed",
                         status_callback=PUBLIC_STATUS_URL)

    [recorded] = twilio.messages_to("+254712345678")
    assert message.sid == recorded["sid"] and re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.status, message.to, message.from_, message.error_code) == ("queued", CUSTOMER, SHOP_WHATSAPP, None)
    assert message.account_sid == twilio.account_sid and message.date_created is not None
    assert recorded["Body"] == "Your order LEG-1738704998-X7K2 is confirmed"
    assert recorded["StatusCallback"] == PUBLIC_STATUS_URL and recorded["ContentSid"] is None


async def test_a_template_send_records_content_sid_and_variables(twilio, rest):
    await rest.messages.create_async(to=CUSTOMER, from_=SHOP_WHATSAPP, content_sid="HX" + "1" * 32,
                                     content_variables='{"1": "Amina", "2": "LEG-1738704998-X7K2"}')

    [recorded] = await twilio.wait_for_messages(1, to=CUSTOMER)
    assert recorded["Body"] is None and recorded["ContentSid"] == "HX" + "1" * 32
    assert recorded["ContentVariables"] == '{"1": "Amina", "2": "LEG-1738704998-X7K2"}'


async def test_a_wrong_auth_token_is_401_with_twilio_code_20003(twilio):
    async with AsyncTwilioHttpClient() as http:
        client = Client(twilio.account_sid, "not-the-token", http_client=http)
        client.api.base_url = twilio.base_url

        with pytest.raises(TwilioRestException) as refused:
            await send(client)

    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert twilio.messages == []


async def test_a_scripted_invalid_number_raises_21211_then_sends_go_through(twilio, rest):
    twilio.reject_next(21211)

    with pytest.raises(TwilioRestException) as refused:
        await send(rest)
    message = await send(rest)

    assert (refused.value.status, refused.value.code) == (400, 21211)
    assert [r["status"] for r in twilio.requests] == [400, 201]
    assert twilio.messages[0]["sid"] == message.sid


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429)])
async def test_transient_failures_raise_with_their_status(twilio, rest, status, code):
    twilio.fail_next(1, status)

    with pytest.raises(TwilioRestException) as failed:
        await send(rest)

    assert (failed.value.status, failed.value.code) == (status, code)


async def test_a_failure_scripted_for_one_recipient_spares_the_others(twilio, rest):
    twilio.reject_next(63016, to="+254700000001", freeform_only=True)

    await send(rest)
    await rest.messages.create_async(to="whatsapp:+254700000001", from_=SHOP_WHATSAPP,
                                     content_sid="HX" + "2" * 32, content_variables="{}")
    with pytest.raises(TwilioRestException) as refused:
        await send(rest, to="whatsapp:+254700000001")

    assert refused.value.code == 63016
    assert len(twilio.messages) == 2


async def test_a_hang_outlasts_the_callers_time_out_and_ends_at_shutdown(rest):
    # AsyncTwilioHttpClient(timeout=...) is not applied to requests: callers bound sends themselves.
    async with FakeTwilio() as twilio:
        rest.api.base_url = twilio.base_url
        twilio.hang_next()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await send(rest)
        loop = asyncio.get_running_loop()
        started = loop.time()
    assert loop.time() - started < 1.0


async def test_the_fake_refuses_what_twilio_refuses(twilio, rest):
    with pytest.raises(TwilioRestException) as no_content:
        await rest.messages.create_async(to=CUSTOMER, from_=SHOP_WHATSAPP)
    with pytest.raises(TwilioRestException) as mixed_channels:
        await send(rest, to="+254712345678")
    with pytest.raises(TwilioRestException) as too_long:
        await rest.messages.create_async(to=CUSTOMER, from_=SHOP_WHATSAPP, body="x" * 1601)
    await rest.messages.create_async(to=CUSTOMER, from_=SHOP_WHATSAPP, body="x" * 1600)

    assert (no_content.value.code, mixed_channels.value.code, too_long.value.code) == (21619, 21910, 21617)


async def test_status_callback_is_signed_for_the_public_url(twilio, rest, webhook_receiver):
    post_url, received = webhook_receiver
    message = await send(rest, status_callback=PUBLIC_STATUS_URL)

    answer = await twilio.send_status_callback(message.sid, "undelivered", 63016, post_url=post_url)

    assert answer == 200
    assert received[0] | {"ChannelInstallSid": "-"} == {
        "MessageSid": message.sid, "SmsSid": message.sid, "MessageStatus": "undelivered",
        "SmsStatus": "undelivered", "AccountSid": twilio.account_sid, "To": CUSTOMER, "From": SHOP_WHATSAPP,
        "ApiVersion": "2010-04-01", "ChannelPrefix": "whatsapp", "ChannelInstallSid": "-",
        "ChannelToAddress": "+254712345678", "StructuredMessage": "false", "ErrorCode": "63016"}


async def test_a_callback_signed_for_another_url_is_refused(twilio, rest, webhook_receiver):
    post_url, _ = webhook_receiver
    message = await send(rest, status_callback=PUBLIC_STATUS_URL)

    assert await twilio.send_status_callback(message.sid, "delivered", url=post_url) == 403


async def test_inbound_form_carries_twilio_fields_and_a_valid_signature(webhook_receiver):
    post_url, _ = webhook_receiver
    form = inbound_form("+254712345678", "I have paid", media=[("https://api.twilio.com/x", "image/jpeg")])

    async with ClientSession() as session:
        signed = await post_signed(session, post_url, PUBLIC_STATUS_URL, form, AUTH_TOKEN)
        unsigned = await post_signed(session, post_url, PUBLIC_STATUS_URL, form, None)

    assert (signed[0], unsigned[0]) == (200, 403)
    assert RequestValidator(AUTH_TOKEN).validate(
        PUBLIC_STATUS_URL, form, sign(PUBLIC_STATUS_URL, form, AUTH_TOKEN))
    assert form["From"] == "whatsapp:+254712345678" and form["WaId"] == "254712345678"
    assert re.fullmatch(r"MM[0-9a-f]{32}", form["MessageSid"]) and form["SmsSid"] == form["MessageSid"]
    assert (form["NumMedia"], form["MediaContentType0"], form["SmsStatus"]) == ("1", "image/jpeg", "received")


async def test_media_needs_the_account_credentials_and_may_be_late(twilio):
    url = twilio.add_media(None, b"%PDF-1.4 receipt", "application/pdf", missing_times=1)
    credentials = {"Authorization": basic_auth(twilio.account_sid, twilio.auth_token)}

    async with ClientSession() as session:
        async with session.get(url) as anonymous:
            assert anonymous.status == 401
        async with session.get(url, headers=credentials) as too_early:
            assert too_early.status == 404 and (await too_early.json())["code"] == 20404
        async with session.get(url, headers=credentials) as ready:
            assert ready.status == 200 and ready.content_type == "application/pdf"
            assert await ready.read() == b"%PDF-1.4 receipt"
    assert [r["status"] for r in twilio.media_requests] == [401, 404, 200]


async def test_inbound_attachments_are_hosted_under_the_message(twilio):
    form = twilio.inbound_form("+254712345678", "", attachments=[(b"\xff\xd8receipt", "image/jpeg")])

    async with ClientSession() as session:
        async with session.get(form["MediaUrl0"], headers={"Authorization": basic_auth(twilio.account_sid, twilio.auth_token)}) as media:
            assert media.status == 200 and await media.read() == b"\xff\xd8receipt"
    assert form["MediaUrl0"].startswith(
        f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/{form['MessageSid']}/Media/ME")
    assert (form["AccountSid"], form["MessageType"], form["MediaContentType0"]) == (
        twilio.account_sid, "image", "image/jpeg")


async def test_the_list_answers_in_twilio_page_shape_filtered_by_recipient_and_day(twilio, rest):
    sent = [await send(rest, body=f"Message {n}") for n in range(5)]
    await send(rest, to="whatsapp:+254700000001", body="To someone else")
    today = twilio.messages[0]["created"].date().isoformat()

    listed = await rest.messages.list_async(to=CUSTOMER, date_sent=today, page_size=2)  # three pages
    other_day = await rest.messages.list_async(to=CUSTOMER, date_sent="2001-01-01")

    assert [m.sid for m in listed] == [m.sid for m in reversed(sent)]  # newest first
    assert {(m.to, m.from_, m.status) for m in listed} == {(CUSTOMER, SHOP_WHATSAPP, "sent")}
    assert listed[0].body == "Message 4" and listed[0].date_created.date().isoformat() == today
    assert other_day == []
    assert [lookup.get("Page", "0") for lookup in twilio.lookups[:3]] == ["0", "1", "2"]


async def test_a_withheld_send_is_created_and_listed_but_never_answered(twilio, rest):
    twilio.withhold_next(seconds=0.2)

    with pytest.raises(Exception) as no_answer:
        await send(rest, body="Your order is confirmed")
    [listed] = await rest.messages.list_async(to=CUSTOMER)

    assert not isinstance(no_answer.value, TwilioRestException)
    assert twilio.requests[0]["status"] is None  # created, never answered
    assert listed.sid == twilio.messages[0]["sid"] and listed.body == "Your order is confirmed"


async def test_a_template_send_is_listed_with_its_variables_in_the_body(twilio, rest):
    await rest.messages.create_async(to=CUSTOMER, from_=SHOP_WHATSAPP, content_sid="HX" + "1" * 32,
                                     content_variables='{"1": "Amina", "2": "LEG-1738704998-X7K2", "3": "shipped"}')

    [listed] = await rest.messages.list_async(to=CUSTOMER)

    assert all(value in listed.body for value in ("Amina", "LEG-1738704998-X7K2", "shipped"))


async def test_a_scripted_lookup_failure_is_a_503(twilio, rest):
    twilio.fail_lookups_next()

    with pytest.raises(TwilioException, match="Unable to fetch page"):  # the library's word for it
        await rest.messages.list_async(to=CUSTOMER)

    assert [lookup["status"] for lookup in twilio.lookups] == [503]


async def test_release_withheld_drops_the_held_connections_now(twilio, rest):
    twilio.withhold_next()  # held up to a minute
    sending = asyncio.create_task(send(rest))
    await twilio.wait_for(lambda: twilio.messages)

    twilio.release_withheld()

    with pytest.raises(Exception) as no_answer:
        async with asyncio.timeout(2.0):
            await sending
    assert not isinstance(no_answer.value, (TwilioRestException, TimeoutError))
