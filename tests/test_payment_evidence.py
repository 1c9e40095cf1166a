"""Payment evidence through the signed webhook and the fake Twilio: forwarded confirmations read
onto the proof with the right flags, the admin alert and the customer's acknowledgement; reused
codes; receipts downloaded with the account's credentials from the Twilio host only, kept by their
SHA-256, retried while Twilio has not stored them yet, and flagged when reused on another order."""
import asyncio
import hashlib
import itertools
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select
from yarl import URL

from core import orders, proofs
from core.clock import FakeClock
from core.models import PaymentProof, ReceiptFile
from tests.conftest import ADMIN_PHONE, answered
from tests.fake_twilio import ACCOUNT_SID, API_VERSION
from tests.helpers import eventually, make_product, place_order
from tests.test_payment_texts import CORPUS, REF
from webhooks import keys
from webhooks.app import create_app
from webhooks.media import MAX_RECEIPT_BYTES, redirect_policy, source_problem

SHOP_CURRENCY = "KES"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40
_phones = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    """The shop's clock on 1 July 2013, before the oldest confirmation in the corpus, so none of
    them is flagged as paid before its order was placed."""
    fake = FakeClock()
    fake.advance(seconds=(datetime(2013, 7, 1, tzinfo=timezone.utc) - datetime.now(timezone.utc)).total_seconds())
    return fake


def new_phone() -> str:
    return f"+254711{next(_phones):06d}"


async def pending_order(wa, admin, phone: str, total: Decimal | str = "3000.00") -> dict:
    product = await make_product(wa.client, admin, stock=5, price=f"{Decimal(total):.2f}")
    return await place_order(wa.client, (product, 1), phone=phone)


async def order_detail(wa, admin, order: dict) -> dict:
    response = await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)
    assert response.status == 200
    return await response.json()


async def payment_alert(wa, reference: str) -> str:
    [message] = await wa.twilio.wait_for(lambda: [
        m for m in wa.twilio.messages_to(ADMIN_PHONE) if m["Body"].startswith(f"💰 Payment report for {reference}")])
    return message["Body"]


async def proof_rows(uow, order: dict) -> list[PaymentProof]:
    async with uow() as tx:
        return list((await tx.session.scalars(
            select(PaymentProof).where(PaymentProof.order_id == order["id"]).order_by(PaymentProof.id))).all())


async def kept(uow, order: dict) -> PaymentProof:
    """The order's proof once its receipt was kept or given up on."""
    async def settled():
        rows = await proof_rows(uow, order)
        return rows and (rows[-1].receipt_sha256 or rows[-1].download_error) and rows[-1]
    return await eventually(settled, timeout=6.0)


def media_url(twilio, content: bytes = JPEG, content_type: str = "image/jpeg", **options) -> tuple[str, str]:
    return twilio.add_media(None, content, content_type, **options), content_type


# --- The corpus: 28 provider confirmations and the 5 customer claims the bot takes as reports --

REPORTED_CLAIMS = {"nimetuma 2,500", "Nimekutumia 3000/= asante 🙏", "I have transferred UGX 50,000 to your number",
                   f"I paid 3,000 for {REF}, code QJK3ABCD12", "Nimelipa, code ni QJK3ABCD12"}


def _unique_code(text: str, code: str | None, n: int) -> tuple[str, str | None]:
    """Each case its own transaction code (the corpus quotes QJK3ABCD12 often), so that no case is
    a reuse of another: the last two characters become 50 + the case number. The one text whose
    code is split by a zero-width space keeps QJK3ABCD12."""
    if not code or code not in text:
        return text, code
    new = code[:-2] + f"{50 + n:02d}"
    return text.replace(code, new), new


def _corpus_cases() -> list[dict]:
    cases = []
    rows = [row for row in CORPUS if row[1] is not None or row[0] in REPORTED_CLAIMS]
    for n, (text, provider, _kind, code, amount, currency, _account) in enumerate(rows):
        text, code = _unique_code(text, code, n)
        amount = Decimal(amount) if amount else None
        if amount is None or currency != SHOP_CURRENCY:
            outcome, total = ("unread" if amount is None else "other_currency"), Decimal("1000.00")
        else:
            outcome = ("equal", "equal", "short", "over")[n % 4]
            total = {"equal": amount, "short": amount + 500, "over": amount - 100}[outcome]
        cases.append({"n": n, "text": text, "provider": provider, "code": code, "amount": amount,
                      "currency": currency, "outcome": outcome, "total": total})
    return cases


CASES = _corpus_cases()


def test_the_corpus_has_thirty_texts_across_the_providers_with_every_outcome():
    assert len(CASES) >= 30
    assert {c["provider"] for c in CASES} >= {"M-PESA", "Airtel Money", "MTN MoMo", None}
    assert {c["outcome"] for c in CASES} == {"equal", "short", "over", "other_currency", "unread"}
    codes = [c["code"] for c in CASES if c["code"]]
    assert len(codes) == len(set(codes))


def expected_flags(case: dict) -> list[str]:
    return {"equal": [], "unread": [], "short": ["amount_short: short by 500.00"],
            "over": ["amount_over: over by 100.00"],
            "other_currency": [f"other_currency: paid in {case['currency']}, the order is in KES: not converted"],
            }[case["outcome"]]


def expected_alert_line(case: dict) -> str:
    what = " ".join(part for part in (case["provider"], case["code"]) if part) or "the customer says"  # a bare claim
    if case["amount"] is None:
        return f"✅ {what}"
    amount = f"{case['currency']} {case['amount']:,.2f}"
    words = {"equal": None, "short": "short by 500.00", "over": "over by 100.00",
             "other_currency": f"paid in {case['currency']}, the order is in KES: not converted"}[case["outcome"]]
    return f"✅ {what}, {amount} = order total" if words is None else f"⚠ {what}, {amount}: {words}"


async def test_every_confirmation_in_the_corpus_is_read_onto_its_order_through_the_webhook(wa, admin, subtests):
    references: list[str] = []
    for case in CASES:
        with subtests.test(n=case["n"], text=case["text"][:40]):
            # Given a customer with a fresh pending order
            phone = new_phone()
            order = await pending_order(wa, admin, phone, case["total"])
            ref = order["orderReference"]
            references.append(ref)
            text = case["text"].replace(REF, ref).replace("leg 1738704998 x7k2", ref.lower().replace("-", " "))

            # When they forward the confirmation
            await wa.say(text, phone=phone)

            # Then the proof holds what was read, with the right flags
            [ack] = await wa.replies_to(phone)
            detail = await order_detail(wa, admin, order)
            assert detail["paymentStatus"] == "reported"
            [proof] = detail["paymentProofs"]
            assert (proof["kind"], proof["provider"], proof["transactionCode"]) == ("text", case["provider"], case["code"])
            assert proof["amount"] == (f"{case['amount']:.2f}" if case["amount"] is not None else None)
            assert proof["currency"] == case["currency"]
            assert proof["flags"] == expected_flags(case)
            # the admins get the one-line result
            alert = await payment_alert(wa, ref)
            assert expected_alert_line(case) in alert.splitlines()
            assert f"confirm {ref}" in alert
            # the customer hears what was read, and what is still due when short
            assert ref in ack
            if case["amount"] is not None and case["currency"] == SHOP_CURRENCY:
                what = " ".join(part for part in (case["provider"], case["code"]) if part) or "a payment"
                assert f"we got {what} for KES {case['amount']:,.2f}" in ack
            else:
                assert "we got" not in ack
            if case["outcome"] == "short":
                assert f"We received {case['amount']:,.2f} of {case['total']:,.2f}, 500.00 to go" in ack
            else:
                assert "to go" not in ack
            assert not [other for other in references[:-1] if other in ack]


async def test_the_order_api_lists_the_proofs_with_what_was_read(wa, admin):
    phone = new_phone()
    order = await pending_order(wa, admin, phone, "3000.00")

    await wa.say(CORPUS[0][0].replace("QJK3ABCD12", "QJK3APIX12"), phone=phone)
    await wa.replies_to(phone)

    [proof] = (await order_detail(wa, admin, order))["paymentProofs"]
    assert set(proof) == {"kind", "provider", "transactionCode", "amount", "currency", "receivedAt", "mediaUrl", "flags",
                          "verifiedBy"}
    assert proof == {"kind": "text", "provider": "M-PESA", "transactionCode": "QJK3APIX12", "amount": "3000.00",
                     "currency": "KES", "receivedAt": proof["receivedAt"], "mediaUrl": None, "flags": [],
                     "verifiedBy": None}   # the customer's word alone: nobody verified it
    assert proof["receivedAt"].startswith("2013-07-01")
    # A list page reads lines, history and proofs for all its orders at once: the same order as its detail.
    listed = (await (await wa.client.get("/api/orders/?limit=5", headers=admin)).json())["results"]
    assert [o for o in listed if o["id"] == order["id"]] == [await order_detail(wa, admin, order)]


def paybill(code: str, account: str, amount: str = "3,000.00") -> str:
    return (f"{code} Confirmed. Ksh{amount} sent to LEGO MENSWEAR for account {account} on 4/2/26 at 9:36 PM "
            f"New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.")


async def test_a_paybill_text_alone_links_the_order_its_account_names(wa, admin):
    # Given a customer with two pending orders
    phone = new_phone()
    older = await pending_order(wa, admin, phone, "3000.00")
    newer = await pending_order(wa, admin, phone, "1500.00")

    # When they forward a Paybill confirmation whose account is the older order, and nothing else
    await wa.say(paybill("RPB4ACCT01", older["orderReference"].lower().replace("-", " ")), phone=phone)

    # Then the proof is on the older order, as a match, and the newer one has none
    [ack] = await wa.replies_to(phone)
    assert older["orderReference"] in ack and newer["orderReference"] not in ack
    [proof] = (await order_detail(wa, admin, older))["paymentProofs"]
    assert (proof["transactionCode"], proof["flags"]) == ("RPB4ACCT01", [])
    assert (await order_detail(wa, admin, newer))["paymentProofs"] == []
    assert "✅ M-PESA RPB4ACCT01, KES 3,000.00 = order total" in await payment_alert(wa, older["orderReference"])


async def test_a_code_already_used_for_another_order_is_flagged_on_the_second(wa, admin):
    # Given a confirmation already recorded for one customer's order
    first_phone, second_phone = new_phone(), new_phone()
    first = await pending_order(wa, admin, first_phone)
    text = CORPUS[0][0].replace("QJK3ABCD12", "QJK3REUS12")
    await wa.say(text, phone=first_phone)
    await wa.replies_to(first_phone)

    # When another customer forwards the same confirmation for their order
    second = await pending_order(wa, admin, second_phone)
    await wa.say(text, phone=second_phone)

    # Then the second proof is flagged and the alert says where the code was used; the first is clean
    [ack] = await wa.replies_to(second_phone)
    [first_proof] = (await order_detail(wa, admin, first))["paymentProofs"]
    [second_proof] = (await order_detail(wa, admin, second))["paymentProofs"]
    assert first_proof["flags"] == []
    assert second_proof["flags"] == [f"code_reused: QJK3REUS12 already used for {first['orderReference']}"]
    alert = await payment_alert(wa, second["orderReference"])
    assert f"⚠ M-PESA QJK3REUS12, KES 3,000.00: QJK3REUS12 already used for {first['orderReference']}" in alert
    # and the second customer learns nothing of the first order
    assert first["orderReference"] not in ack


async def test_the_same_customer_quoting_a_code_twice_for_one_order_is_not_a_reuse(wa, admin):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)
    text = CORPUS[0][0].replace("QJK3ABCD12", "QJK3TWIC12")

    await wa.say(text, phone=phone)
    await wa.say(f"Sorry, again: {text}", phone=phone)

    await wa.replies_to(phone, count=2)
    [proof] = (await order_detail(wa, admin, order))["paymentProofs"]
    assert proof["flags"] == []


# --- Receipt files -----------------------------------------------------------------------------

async def test_a_receipt_is_downloaded_with_the_account_credentials_and_kept_by_its_sha256(wa, admin, uow, wa_settings):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)

    await wa.say("Here is the receipt", phone=phone, attachments=[(JPEG, "image/jpeg")])

    proof = await kept(uow, order)
    sha256 = hashlib.sha256(JPEG).hexdigest()
    assert (proof.receipt_sha256, proof.receipt_path, proof.download_error) == \
        (sha256, f"receipts/{sha256}.jpg", None)
    assert (Path(wa_settings.media_dir) / proof.receipt_path).read_bytes() == JPEG
    assert [(r["status"], r["authorized"]) for r in wa.twilio.media_requests] == [(200, True)]
    assert proof.raw_text == "Here is the receipt" and proof.flags == []
    async with uow() as tx:
        row = await tx.session.get(ReceiptFile, sha256)
    assert (row.size, row.content_type, row.first_proof_id) == (len(JPEG), "image/jpeg", proof.id)


async def test_a_receipt_twilio_has_not_stored_yet_is_retried_and_the_reply_does_not_wait(wa, admin, uow):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)
    url = media_url(wa.twilio, missing_times=2)

    await wa.say("", phone=phone, media=[url])

    # The acknowledgement is out while the download is still waiting out Twilio's 404s
    [ack] = await wa.replies_to(phone)
    assert order["orderReference"] in ack
    [pending] = await proof_rows(uow, order)
    assert pending.receipt_sha256 is None
    # and the file is kept on the third try
    proof = await kept(uow, order)
    assert proof.receipt_sha256 == hashlib.sha256(JPEG).hexdigest()
    assert [r["status"] for r in wa.twilio.media_requests] == [404, 404, 200]


async def test_the_same_receipt_on_another_order_is_flagged_and_the_admins_told_once(wa, admin, uow):
    # Given a receipt kept for one customer's order
    first_phone, second_phone = new_phone(), new_phone()
    first = await pending_order(wa, admin, first_phone)
    await wa.say("paid", phone=first_phone, attachments=[(JPEG, "image/jpeg")])
    await kept(uow, first)

    # When another customer sends the very same image for their order
    second = await pending_order(wa, admin, second_phone)
    await wa.say("payment sent", phone=second_phone, attachments=[(JPEG, "image/jpeg")])

    # Then their proof is flagged, naming the first order, and the admins get one alert
    proof = await kept(uow, second)
    assert proof.flags == [f"file_reused: same receipt as {first['orderReference']}"]
    [first_proof] = await proof_rows(uow, first)
    assert first_proof.flags == []
    alert = await wa.twilio.wait_for(lambda: [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE)
                                              if m["Body"].startswith("⚠ Receipt reused")])
    await asyncio.sleep(0.3)
    assert len([m for m in wa.twilio.messages_to(ADMIN_PHONE) if m["Body"].startswith("⚠ Receipt reused")]) == 1
    assert second["orderReference"] in alert[0] and first["orderReference"] in alert[0]
    detail = await order_detail(wa, admin, second)
    assert detail["paymentProofs"][0]["flags"] == proof.flags
    # and the second customer hears nothing of the first order
    assert first["orderReference"] not in "".join(await wa.replies_to(second_phone))


async def test_the_same_receipt_sent_at_once_for_two_orders_is_flagged_on_exactly_one(wa, admin, uow):
    # Given two customers with an order each
    phones = [new_phone(), new_phone()]
    placed = [await pending_order(wa, admin, phone) for phone in phones]

    # When both send the same image at the same moment (the downloads and their records overlap)
    await asyncio.gather(*(wa.say("paid", phone=phone, attachments=[(JPEG, "image/jpeg")]) for phone in phones))

    # Then exactly one of the two proofs is flagged, naming the other order
    first, second = [await kept(uow, order) for order in placed]
    flagged = [(proof, other) for proof, other in ((first, placed[1]), (second, placed[0])) if proof.flags]
    [(proof, other)] = flagged
    assert proof.flags == [f"file_reused: same receipt as {other['orderReference']}"]


async def test_the_same_receipt_sent_twice_for_one_order_is_not_a_reuse(wa, admin, uow):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)

    await wa.say("paid", phone=phone, attachments=[(JPEG, "image/jpeg")])
    await kept(uow, order)
    await wa.say("paid, here it is again", phone=phone, attachments=[(JPEG, "image/jpeg")])

    async def both_kept():
        rows = await proof_rows(uow, order)
        return len(rows) == 2 and all(r.receipt_sha256 for r in rows) and rows
    rows = await eventually(both_kept)
    assert [r.flags for r in rows] == [[], []]


@pytest.fixture
async def stranger(aiohttp_server):
    """Somebody else's server on loopback, recording every request it gets."""
    hits: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path_qs} {request.headers.get('Authorization', '')}")
        return web.Response(body=JPEG, content_type="image/jpeg")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await aiohttp_server(app)
    server.hits = hits
    return server


MEDIA_PATH = f"/{API_VERSION}/Accounts/{ACCOUNT_SID}/Messages/{'MM' + '1' * 32}/Media/{'ME' + '2' * 32}"


@pytest.mark.parametrize("where", ["another host", "user name before the host", "the Twilio host over https",
                                   "another account on the Twilio host"])
async def test_a_media_url_off_the_twilio_host_is_never_fetched_and_the_proof_is_kept(
        wa, admin, uow, stranger, where):
    twilio_host = URL(wa.twilio.base_url)
    url = {"another host": str(stranger.make_url(MEDIA_PATH)),
           "user name before the host": f"http://{twilio_host.host}:{twilio_host.port}@127.0.0.1:{stranger.port}"
                                        f"{MEDIA_PATH}",
           "the Twilio host over https": f"https://{twilio_host.host}:{twilio_host.port}{MEDIA_PATH}",
           "another account on the Twilio host": wa.twilio.base_url + MEDIA_PATH.replace(ACCOUNT_SID, "AC" + "9" * 32),
           }[where]
    phone = new_phone()
    order = await pending_order(wa, admin, phone)

    await wa.say("I have paid, see receipt", phone=phone, media=[(url, "image/jpeg")])

    proof = await kept(uow, order)
    assert proof.download_error.startswith("not fetched: ")
    assert proof.raw_text == "I have paid, see receipt" and proof.media_url == url
    assert proof.flags == [f"download_failed: receipt not kept ({proof.download_error})"]
    assert stranger.hits == [] and wa.twilio.media_requests == []
    assert order["orderReference"] in (await wa.replies_to(phone))[0]


async def test_a_redirect_off_twilio_is_not_followed(wa, admin, uow, stranger):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)
    url = media_url(wa.twilio, redirect_to=str(stranger.make_url("/receipt.jpg")))

    await wa.say("paid", phone=phone, media=[url])

    proof = await kept(uow, order)
    assert proof.download_error == "Twilio redirected to http://127.0.0.1, which is not its media storage"
    assert stranger.hits == []
    assert [(r["status"], r["authorized"]) for r in wa.twilio.media_requests] == [(307, True)]


async def test_a_redirect_within_the_twilio_api_host_is_followed_with_the_credentials(wa, admin, uow):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)
    final, _ = media_url(wa.twilio)
    url = media_url(wa.twilio, redirect_to=final)

    await wa.say("paid", phone=phone, media=[url])

    proof = await kept(uow, order)
    assert proof.receipt_sha256 == hashlib.sha256(JPEG).hexdigest()
    assert [(r["status"], r["authorized"]) for r in wa.twilio.media_requests] == [(307, True), (200, True)]


async def test_a_receipt_that_never_arrives_is_given_up_on_and_the_proof_keeps_its_text(wa, admin, uow):
    wa.client.app[keys.RECEIPTS].delays = (0.05, 0.05, 0.05)
    phone = new_phone()
    order = await pending_order(wa, admin, phone)
    url = media_url(wa.twilio, missing_times=100)

    await wa.say("Nimelipa, hii ni risiti", phone=phone, media=[url])

    proof = await kept(uow, order)
    assert proof.download_error == "Twilio answered 404, 4 tries"
    assert (proof.raw_text, proof.media_url, proof.kind) == ("Nimelipa, hii ni risiti", url[0], "receipt")
    assert len(wa.twilio.media_requests) == 4
    detail = await order_detail(wa, admin, order)
    assert detail["paymentStatus"] == "reported"
    assert detail["paymentProofs"][0]["flags"] == ["download_failed: receipt not kept (Twilio answered 404, 4 tries)"]


async def test_a_receipt_over_the_size_cap_is_not_kept(wa, admin, uow, wa_settings):
    phone = new_phone()
    order = await pending_order(wa, admin, phone)

    await wa.say("receipt", phone=phone, media=[media_url(wa.twilio, b"%PDF" + b"0" * MAX_RECEIPT_BYTES,
                                                          "application/pdf")])

    proof = await kept(uow, order)
    assert proof.download_error == "the file is larger than 10 MiB"
    assert not list(Path(wa_settings.media_dir).glob("receipts/*"))


async def test_without_twilio_credentials_no_receipt_is_downloaded_and_the_proof_is_kept(
        client, admin, uow, twilio):
    order = await place_order(client, (await make_product(client, admin, price="3000.00"), 1), phone=new_phone())
    url, _ = media_url(twilio)
    form = twilio.inbound_form(order["customerPhone"], "here is my receipt", media=[(url, "image/jpeg")])

    response = await client.post("/webhooks/twilio/whatsapp", data=form)
    await answered(client)

    assert response.status == 200
    [proof] = await proof_rows(uow, order)
    assert (proof.kind, proof.media_url, proof.raw_text) == ("receipt", url, "here is my receipt")
    await asyncio.sleep(0.3)
    [proof] = await proof_rows(uow, order)
    assert (proof.receipt_sha256, proof.download_error) == (None, None)
    assert twilio.media_requests == []


async def test_receipts_not_yet_downloaded_are_fetched_after_a_restart(aiohttp_client, wa_settings, clock, uow,
                                                                        twilio, admin, wa):
    # Given a receipt proof the previous run never got to download
    order = await pending_order(wa, admin, new_phone())
    url, content_type = media_url(twilio, content=JPEG + b"restart")
    async with uow() as tx:
        await proofs.record_proof(tx, await orders.get_order(tx, order["id"]), kind="receipt", actor="test",
                                  media_url=url, content_type=content_type)
        await tx.commit()

    # When the app starts again
    await aiohttp_client(create_app(wa_settings, clock=clock, jobs_enabled=False))

    # Then it downloads it
    proof = await kept(uow, order)
    assert proof.receipt_sha256 == hashlib.sha256(JPEG + b"restart").hexdigest()


# --- What may be fetched, as a table ------------------------------------------------------------

API = "https://api.twilio.com"
MEDIA = f"{API}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}"


@pytest.mark.parametrize("url, problem", [
    (MEDIA, None),
    (MEDIA.replace("https://api.twilio.com", "https://API.Twilio.com:443"), None),
    (MEDIA.replace("https://", "http://"), "host api.twilio.com is not the Twilio API host"),
    (MEDIA.replace("api.twilio.com", "api.twilio.com.evil.example"), "is not the Twilio API host"),
    (MEDIA.replace("api.twilio.com", "api.twilio.com:8443"), "is not the Twilio API host"),
    (MEDIA.replace("api.twilio.com", "api.twilio.com@evil.example"), "carries a user name"),
    (MEDIA.replace("api.twilio.com", "user:pw@api.twilio.com"), "carries a user name"),
    (MEDIA.replace("api.twilio.com", "169.254.169.254"), "is not the Twilio API host"),
    (MEDIA.replace(ACCOUNT_SID, "AC" + "0" * 32), "not one of this account's media"),
    (f"{API}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", "not one of this account's media"),
    (f"{MEDIA}/../../../../Messages.json", "not one of this account's media"),
    ("/2010-04-01/Accounts/x", "not a URL"),
    ("x", "not a URL"),
    ("http://[::1", "not a URL"),
])
def test_only_this_accounts_media_on_the_twilio_api_host_gets_the_credentials(url, problem):
    found = source_problem(url, API, ACCOUNT_SID)

    assert found == problem if problem is None else problem in found


@pytest.mark.parametrize("location, allowed, credentials", [
    ("https://mms.twiliocdn.com/AC123/abc?Expires=1&Signature=x", True, False),
    ("https://media.twiliocdn.com/AC123/abc", True, False),
    ("https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC123/abc", True, False),
    ("https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME2", True, True),
    ("http://mms.twiliocdn.com/AC123/abc", False, False),
    ("https://mms.twiliocdn.com:8443/AC123/abc", False, False),
    ("https://twiliocdn.com.evil.example/abc", False, False),
    ("https://evil-bucket.s3.amazonaws.com/abc", False, False),
    ("https://127.0.0.1/abc", False, False),
    ("http://169.254.169.254/latest/meta-data/", False, False),
    ("https://user@mms.twiliocdn.com/abc", False, False),
])
def test_twilio_redirects_are_followed_only_to_its_media_storage(location, allowed, credentials):
    problem, with_credentials = redirect_policy(URL(location), API)

    assert (problem is None, with_credentials) == (allowed, credentials)
    assert problem is None or re.search(r"redirected to", problem)
