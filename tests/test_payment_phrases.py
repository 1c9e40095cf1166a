"""Spotting payment reports: what customers write when they have paid (English, Swahili, emoji),
what they write when they have not, receipts as media, and the storefront's prefilled order
message, which links an order but never reports a payment."""
import time

import pytest

from bot.payments import (PAYMENT_PHRASES, is_payment_text, is_prefilled_order_message,
                          is_receipt_media)
from bot.replies import storefront_prefill
from tests.test_references import STOREFRONT_ORDER, STOREFRONT_ORDER_BOXED, STOREFRONT_ORDER_TABLE

STOREFRONT_MESSAGES = [
    STOREFRONT_ORDER,
    STOREFRONT_ORDER_BOXED,
    STOREFRONT_ORDER_TABLE,
    storefront_prefill("Legacy Wear", "LEG-1738704998-X7K2"),
]


@pytest.mark.parametrize("text", [
    "I have paid",
    "I've paid",
    "I’ve paid 🙏",                                   # typographic apostrophe
    "Ive paid",
    "i paid",
    "I HAVE PAID!!!",
    "I   have\tpaid.",
    "Hi, I have paid for LEG-1738704998-X7K2",
    "Payment sent ✅",
    "payment sent.",
    "Sent the money",
    "I have sent the money to your till",
    "Money sent 💸💸",
    "done paying",
    "Payment done. Kindly confirm",
    "paid already",
    "Already paid, please ship",
    "Transfer done",
    "I have transferred 3,000 to your account",
    "I have made the payment",
    "Good morning, just paid via M-PESA",
    "Paid ✅",
    "paid",
    "*I have paid*",
    "Nimelipa",
    "nimelipa 🙏🏾",
    "Habari, nimeshalipa. Asante",
    "Nimetuma pesa",
    "Nimekutumia 3000",
    "nimepay boss",
    "No problem, I paid",
    "No worries I have paid",
    "Sorry for the delay. I have paid now",
    "I'm not sure it went through but I have paid",
    "Did you get it? I've sent the money",
    "Have you received the payment? Payment sent at 9pm",
    "مرحبا I have paid شكرا",                           # RTL text around it
    "\u200fI have paid\u200f",
    "I have paid for order LEG-MGX2K7Q1-A3F9. Total KES 3,000.00",
])
def test_a_customer_saying_they_paid_is_a_payment_report(text):
    assert is_payment_text(text)


@pytest.mark.parametrize("text", [
    "I haven't paid yet",
    "I havent paid",
    "I have not paid",
    "not paid",
    "Not paid yet",
    "unpaid",
    "My order is still unpaid",
    "I will pay",
    "I'll pay tomorrow",
    "I will make the payment tonight",
    "How do I pay?",
    "How can I pay for LEG-1738704998-X7K2?",
    "Where do I send the money?",
    "Can I pay on delivery?",
    "Is the money sent?",
    "Should I say payment done?",
    "Payment sent yet?",
    "No payment sent yet",
    "No money sent",
    "I haven't sent the money",
    "I didn't send the money yet, sorry",
    "I don't think payment done",
    "Not sure if I paid",
    "I will send the receipt once I have paid",
    "I'll tell you when payment done",
    "Bado sijalipa",
    "sijatuma bado",
    "Nitalipa kesho",                                  # I will pay tomorrow
    "Nataka kulipa",                                   # I want to pay
    "Is delivery paid separately?",
    "prepaid",
    "Repayment",
    "I want to pay with M-PESA",
    "Send me the payment details",
    "Hello 👋",
    "",
    "   ",
    "🙏🙏🙏",
    "مرحبا، كيف أدفع؟",                                 # RTL: "hello, how do I pay?"
])
def test_words_that_do_not_report_a_payment_are_not_one(text):
    assert not is_payment_text(text)


@pytest.mark.parametrize("message", STOREFRONT_MESSAGES)
def test_the_prefilled_order_message_is_recognised_and_never_a_payment_report(message):
    assert is_prefilled_order_message(message)
    assert is_prefilled_order_message(message, ["LEG"])
    assert not is_payment_text(message)


@pytest.mark.parametrize("text", [
    "Please process payment for LEG-1738704998-X7K2, I have paid",   # one mark is a customer's words
    "Order ref: LEG-1738704998-X7K2. Payment sent",
    "I have paid",
    "👉 Process payment",                                          # no reference
    "━━━━━━━━━━━━\n*NEW ORDER*\n👉 Process payment",               # no reference
])
def test_a_customers_own_message_is_not_taken_for_the_prefilled_one(text):
    assert not is_prefilled_order_message(text)


@pytest.mark.parametrize("text", [
    "Please process payment for LEG-1738704998-X7K2, I have paid",
    "Order ref: LEG-1738704998-X7K2. Payment sent",
])
def test_a_payment_report_that_names_its_order_is_still_a_report(text):
    assert is_payment_text(text)


def test_a_shop_extends_the_phrases():
    assert not is_payment_text("Nimeweka doh kwa till")
    assert is_payment_text("Nimeweka doh kwa till", extra_phrases=("nimeweka doh",))
    assert not is_payment_text("sijaweka doh", extra_phrases=("nimeweka doh",))
    assert not is_payment_text("Sina doh, nitaweka kesho", extra_phrases=["nimeweka doh"])


def test_extra_phrases_obey_negations_too():
    assert is_payment_text("Deposit made", extra_phrases=("deposit made",))
    assert not is_payment_text("No deposit made yet", extra_phrases=("deposit made",))


def test_the_default_phrases_include_the_examples_the_contract_names():
    for phrase in ("I have paid", "payment sent", "sent the money", "nimelipa", "nimetuma"):
        assert phrase in PAYMENT_PHRASES
        assert is_payment_text(phrase)


@pytest.mark.parametrize("content_type, receipt", [
    ("image/jpeg", True),
    ("image/png", True),
    ("image/webp", False),  # a WhatsApp sticker
    ("IMAGE/JPEG", True),
    ("application/pdf", True),
    ("application/pdf; name=receipt.pdf", True),
    ("audio/ogg", False),
    ("audio/ogg; codecs=opus", False),
    ("video/mp4", False),
    ("text/vcard", False),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", False),
    ("application/pdfx", False),
    ("", False),
])
def test_photos_and_pdfs_are_receipts(content_type, receipt):
    assert is_receipt_media(content_type) is receipt


LONG_BODIES = [
    "I have not " * 1000,
    "paid " * 2000,
    "no " * 3333,
    "I have paid, " * 800,
    "nimelipa" * 1250,
    "💸" * 10_000,
    "━" * 10_000,
    "?" * 10_000,
    "a" * 10_000,
    "مرحبا " * 1600,
    (STOREFRONT_ORDER + "\n") * 12,
]


@pytest.mark.parametrize("body", LONG_BODIES, ids=lambda body: repr(body[:12]))
def test_long_messages_are_read_quickly(body):
    started = time.perf_counter()
    is_payment_text(body)
    is_prefilled_order_message(body)
    assert time.perf_counter() - started < 1.0


def test_a_long_message_can_still_report_a_payment():
    assert is_payment_text("Habari. " * 1200 + "Nimelipa, asante")
    assert not is_payment_text("Habari. " * 1200 + "Sijalipa bado")
