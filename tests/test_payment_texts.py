"""Reading forwarded mobile-money confirmations (M-PESA, Airtel Money, MTN MoMo) and customers' own
"I sent 3,000": provider, code, amount, currency, account; never a balance, a fee or a price from the
storefront's order message; doubtful reads flagged, not guessed; and bounded on anything."""
from datetime import datetime
from decimal import Decimal

import pytest

from bot.payment_texts import MAX_READS_PER_MESSAGE, check_amount, normalise, parse_amount, read_payment_text
from bot.providers import FORMATS, PROVIDERS
from bot.references import find_references
from bot.replies import storefront_prefill
from tests.hostile_texts import HOSTILE
from tests.test_references import STOREFRONT_ORDER, STOREFRONT_ORDER_BOXED, STOREFRONT_ORDER_TABLE

MPESA_SENT = ("QJK3ABCD12 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM. "
              "New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.")
REF = "LEG-1738704998-X7K2"

# text, provider, kind, transaction code, amount, currency, account — read with the shop's currency KES.
CORPUS = [
    # M-PESA (Kenya and Tanzania)
    (MPESA_SENT, "M-PESA", "send money", "QJK3ABCD12", "3000.00", "KES", None),
    ("RBK7XY12AB Confirmed. Ksh2,500.00 sent to JANE WANJIKU 0722000111 on 18/11/25 at 2:15 PM. New M-PESA "
     "balance is Ksh12,500.00. Transaction cost, Ksh13.00.",
     "M-PESA", "send money", "RBK7XY12AB", "2500.00", "KES", None),
    ("QJK3ABCD12 Confirmed.\nKsh3,000.00 sent to\nLEGO MENSWEAR 0712345678\non 4/2/26 at 9:36 PM\n"
     "New M-PESA balance is Ksh1,234.00.",                                      # forwarded with line breaks
     "M-PESA", "send money", "QJK3ABCD12", "3000.00", "KES", None),
    ("TAB1C2D3E4 Confirmed. Ksh 800 sent to BRIAN KIPTOO 0700111222 on 5/2/26 at 10:02 AM. New M-PESA "
     "balance is Ksh 40.",                                                       # no decimals, a space
     "M-PESA", "send money", "TAB1C2D3E4", "800.00", "KES", None),
    ("DT82ZD611 Confirmed. Ksh5,500.00 sent to LEGO MENSWEAR 0712345678 on 31/7/13 at 3:08 PM New M-PESA "
     "balance is Ksh344.00.",                                                    # an old 9-character code
     "M-PESA", "send money", "DT82ZD611", "5500.00", "KES", None),
    ("QJK3ABCD13 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR for account LEG-1738704998-X7K2 on 4/2/26 at "
     "9:36 PM New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.",
     "M-PESA", "Paybill", "QJK3ABCD13", "3000.00", "KES", REF),
    ("RGH4LM56NP Confirmed. Ksh2,250.50 sent to LEGACY WEAR for account leg 1738704998 x7k2 on 6/2/26 at "
     "8:01 AM New M-PESA balance is Ksh9.50. Transaction cost, Ksh0.00.Amount you can transact within the day "
     "is 497,749.50.",
     "M-PESA", "Paybill", "RGH4LM56NP", "2250.50", "KES", "leg 1738704998 x7k2"),
    ("SAF9ZZ1Y2X Confirmed. Ksh12,750.00 sent to Equity Paybill Account for account A123456789 on 15/1/26 "
     "at 10:02 AM New M-PESA balance is Ksh250.00. Transaction cost, Ksh0.00.",   # account looks like a code
     "M-PESA", "Paybill", "SAF9ZZ1Y2X", "12750.00", "KES", "A123456789"),
    ("QJK3ABCD14 Confirmed. Ksh1,500.00 paid to LEGO MENSWEAR. on 4/2/26 at 9:36 PM.New M-PESA balance is "
     "Ksh1,234.00. Transaction cost, Ksh0.00. Amount you can transact within the day is 498,500.00.",
     "M-PESA", "Buy Goods", "QJK3ABCD14", "1500.00", "KES", None),
    ("TLM2AB3CD4 Confirmed. Ksh160.00 paid to F.M STORES. on 20/12/25 at 7:05 AM.New M-PESA balance is "
     "Ksh40.00. Transaction cost, Ksh0.00.",
     "M-PESA", "Buy Goods", "TLM2AB3CD4", "160.00", "KES", None),
    ("AGD0A4SY2ZC Confirmed. Tsh9,999.00 sent to LUKU for account 37212457040 on 13/7/23 at 10:18 PM Total "
     "fee Tsh100.00 (M-Pesa fee Tsh100.00 + Government Levy Tsh0.00). Balance is Tsh1,748.00.",
     "M-PESA", "Paybill", "AGD0A4SY2ZC", "9999.00", "TZS", "37212457040"),
    ("AGN5A7OYE2J Confirmed. Tsh5,000.00 sent to 255767434014 - GREGORY MALISA on 23/7/23 at 8:53 PM Total "
     "fee Tsh130.00 (M-Pesa fee Tsh130.00 + Government levy Tsh0.00). New balance is Tsh118.00.",
     "M-PESA", "send money", "AGN5A7OYE2J", "5000.00", "TZS", None),
    ("Habari 🙏🏾 nimetuma:\n" + MPESA_SENT + "\nAsante sana ✅",               # Swahili and emoji around it
     "M-PESA", "send money", "QJK3ABCD12", "3000.00", "KES", None),
    ("\u200fمرحبا " + MPESA_SENT + " شكرا\u200f",                               # RTL text and marks
     "M-PESA", "send money", "QJK3ABCD12", "3000.00", "KES", None),
    ("*QJK3ABCD12 Confirmed.* _Ksh3,000.00_ sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM.",
     "M-PESA", "send money", "QJK3ABCD12", "3000.00", "KES", None),            # WhatsApp markup
    ("QJK3\u200bABCD12 Confirmed. Ksh3,000.00 sent to LEGO 🛍️ MENSWEAR 0712345678 on 4/2/26 at 9:36 PM.",
     "M-PESA", "send money", "QJK3ABCD12", "3000.00", "KES", None),            # zero-width space in the code
    # Airtel Money (Kenya, Uganda, Tanzania)
    ("TID: MP250204.1234.A12345. You have sent UGX 50,000 to 0701234567 LEGO MENSWEAR. Charge UGX 500. "
     "Your balance is UGX 120,500.",
     "Airtel Money", "send money", "MP250204.1234.A12345", "50000.00", "UGX", None),
    ("TID: MP250204.2136.L71104. You have sent Ksh 3,000 to 0733123456 LEGO MENSWEAR. Your Airtel Money "
     "balance is Ksh 1,200.",
     "Airtel Money", "send money", "MP250204.2136.L71104", "3000.00", "KES", None),
    ("TID:MP250204.2136.C12345. You have sent Tsh 25,000 to 255689123456 LEGO MENSWEAR. Charges Tsh 0. "
     "Your balance is Tsh 4,500.",
     "Airtel Money", "send money", "MP250204.2136.C12345", "25000.00", "TZS", None),
    ("You have sent UGX 50,000 to LEGO MENSWEAR . Date 04-February-2025 21:36, Your Balance is UGX 99,699. "
     "Txn Id: 55825852045.",
     "Airtel Money", "send money", "55825852045", "50000.00", "UGX", None),
    ("SENT UGX 50,000 to LEGO MENSWEAR 256701234567. Fee UGX 500. Bal UGX 68,639. Trans ID: 57792151851.",
     "Airtel Money", "send money", "57792151851", "50000.00", "UGX", None),
    ("You have paid UGX 75,000 to LEGO MENSWEAR. Charge UGX 0. Balance UGX 5,000. TID: 58812345678.",
     "Airtel Money", "send money", "58812345678", "75000.00", "UGX", None),
    # MTN MoMo (Ghana, Uganda)
    ("Payment made for GHS 150.00 to LEGO MENSWEAR Current Balance: GHS 1042.16 . Available Balance: GHS "
     "1042.16. Reference: LEG-1738704998-X7K2. Transaction ID: 90078777179. Fee charged: GHS1.50 Tax "
     "charged: 0.",
     "MTN MoMo", "payment", "90078777179", "150.00", "GHS", REF),
    ("Payment made for GHS 295.00 to AARON AMPEM LARTEY Current Balance: GHS 1042.16 . Available Balance: "
     "GHS 1042.16. Reference: X. Transaction ID: 90078777180. Fee charged: GHS2.21 Tax charged: 0. Download "
     "the MoMo App for a Faster & Easier Experience. Click here: https://mtnmymomo.onelink.me/XJOt/MoMo",
     "MTN MoMo", "payment", "90078777180", "295.00", "GHS", "X"),
    ("Y'ello. Payment made for UGX 30,000 to LEGO MENSWEAR (MoMoPay 123456) on 2025-02-04 21:36:34. Reason: "
     "LEG-1738704998-X7K2. Fee UGX 0. New balance: UGX 12,000. ID: 14234567890.",
     "MTN MoMo", "payment", "14234567890", "30000.00", "UGX", REF),
    ("You have sent GHS 150.00 to LEGO MENSWEAR 0241234567. Transaction ID: 12345678901. Fee: GHS 0.75. "
     "Balance: GHS 300.00.",
     "MTN MoMo", "send money", "12345678901", "150.00", "GHS", None),
    ("You have sent UGX 204,725 to LEGO MENSWEAR, 256772123456 on 2025-02-04 21:36:34, fee: 1,100. Reason: "
     "LEG-1738704998-X7K2. New balance: 408,926. ID: 13114283719.",
     "MTN MoMo", "send money", "13114283719", "204725.00", "UGX", REF),
    ("You have transferred 35000 UGX to LEGO MENSWEAR (256772123456) from your mobile money account 68577050 "
     "at 2025-02-04 21:36:57. Your new balance: 15076 UGX. Message from sender: LEG-1738704998-X7K2. Message "
     "to receiver: thanks. Financial Transaction Id: 12446326789.",             # amount before the currency
     "MTN MoMo", "send money", "12446326789", "35000.00", "UGX", REF),
    # A customer's own words
    ("I sent 3,000", None, "claim", None, "3000.00", "KES", None),
    ("paid KES 3000", None, "claim", None, "3000.00", "KES", None),
    ("nimetuma 2,500", None, "claim", None, "2500.00", "KES", None),
    ("Nimekutumia 3000/= asante 🙏", None, "claim", None, "3000.00", "KES", None),
    ("Sent 1500 bob to your till", None, "claim", None, "1500.00", "KES", None),
    ("I have transferred UGX 50,000 to your number", None, "claim", None, "50000.00", "UGX", None),
    ("I paid 3,000 for LEG-1738704998-X7K2, code QJK3ABCD12", None, "claim", "QJK3ABCD12", "3000.00", "KES", None),
    ("Nimelipa, code ni QJK3ABCD12", None, "claim", "QJK3ABCD12", None, "KES", None),
    ("Amount paid: KES 3,000. Payment of Ksh 3,000 done", None, "claim", None, "3000.00", "KES", None),
]


@pytest.mark.parametrize("text, provider, kind, code, amount, currency, account", CORPUS,
                         ids=[f"{i:02d}-{row[1] or 'claim'}-{row[2]}" for i, row in enumerate(CORPUS)])
def test_a_confirmation_is_read_for_its_provider_code_amount_and_account(
        text, provider, kind, code, amount, currency, account):
    reads = read_payment_text(text, "KES")

    assert len(reads) == 1
    read = reads[0]
    assert (read.provider, read.kind, read.transaction_code) == (provider, kind, code)
    assert read.amount == (Decimal(amount) if amount else None)
    assert read.currency == currency
    assert read.account == account
    assert read.doubts == []


def test_the_corpus_covers_every_provider_with_at_least_thirty_texts():
    assert len(CORPUS) >= 30
    assert {row[1] for row in CORPUS} >= {"M-PESA", "Airtel Money", "MTN MoMo", None}


def test_every_provider_in_the_table_has_samples_for_each_format():
    assert all(fmt.samples for provider in PROVIDERS for fmt in provider.formats)


SAMPLES = [(name, fmt, sample) for name, fmt in FORMATS for sample in fmt.samples]


@pytest.mark.parametrize("name, fmt, sample", SAMPLES,
                         ids=[f"{name}-{fmt.kind}-{i}" for i, (name, fmt, _) in enumerate(SAMPLES)])
def test_every_format_in_the_table_reads_its_own_samples(name, fmt, sample):
    assert fmt.regex.search(normalise(sample)), "the sample must match its own pattern"

    reads = read_payment_text(sample, "KES")

    assert [(r.provider, r.kind) for r in reads] == [(name, fmt.kind)]
    read = reads[0]
    assert read.transaction_code and read.amount and read.counterparty
    assert read.amount.as_tuple().exponent == -2
    assert read.doubts == []


def test_the_amounts_are_decimals_with_two_places():
    for text, *_ in CORPUS:
        for read in read_payment_text(text, "KES"):
            assert read.amount is None or read.amount.as_tuple().exponent == -2


@pytest.mark.parametrize("text, expected", [
    (MPESA_SENT, datetime(2026, 2, 4, 21, 36)),                                 # d/m/yy, 12-hour clock
    (MPESA_SENT.replace("9:36 PM", "9:36 AM"), datetime(2026, 2, 4, 9, 36)),
    (MPESA_SENT.replace("4/2/26", "12/11/2025"), datetime(2025, 11, 12, 21, 36)),
    ("You have sent UGX 50,000 to LEGO MENSWEAR . Date 04-February-2025 21:36, Your Balance is UGX 99,699. "
     "Txn Id: 55825852045.", datetime(2025, 2, 4, 21, 36)),
    ("You have sent UGX 204,725 to LEGO MENSWEAR, 256772123456 on 2025-02-04 21:36:34, fee: 1,100. "
     "ID: 13114283719.", datetime(2025, 2, 4, 21, 36, 34)),
    ("Payment made for GHS 150.00 to LEGO MENSWEAR. Transaction ID: 90078777179.", None),   # MTN Ghana has none
])
def test_the_time_is_read_when_the_confirmation_gives_it(text, expected):
    assert read_payment_text(text, "KES")[0].time == expected


def test_the_paybill_account_names_the_order():
    read = read_payment_text(CORPUS[6][0], "KES")[0]
    assert find_references(read.account, ["LEG"]) == [REF]


def test_who_was_paid_is_read_as_the_provider_wrote_it():
    assert read_payment_text(MPESA_SENT, "KES")[0].counterparty == "LEGO MENSWEAR 0712345678"
    assert read_payment_text(CORPUS[9][0], "KES")[0].counterparty == "F.M STORES"


@pytest.mark.parametrize("text", [
    STOREFRONT_ORDER,                                    # prices like KES 3,000.00 and "Process payment"
    STOREFRONT_ORDER_BOXED,
    STOREFRONT_ORDER_TABLE,
    storefront_prefill("Legacy Wear", REF),
    "Hi, is the Oxford shirt available in M? How much is delivery to Kisumu, 300?",
    "Order LEG-1738704998-X7K2 total KES 3,000.00",
    "QJK3ABCD12 Confirmed. Your account balance was: M-PESA Account : Ksh1,234.00 on 4/2/26 at 9:36 PM. "
    "Transaction cost, Ksh0.00.",                        # a balance enquiry, not a payment
    "Dear Customer, your Airtel Money balance is Ksh3,359.00 as of today.",
    "New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.",
    "QJK3ABCD15 Confirmed. You have received Ksh3,000.00 from JOHN DOE 0712345678 on 4/2/26 at 9:36 PM.",
    "Failed. You do not have enough money in your M-PESA account to send Ksh3,000.00.",
    "I will send 3,000 tomorrow",
    "I haven't sent the 3,000 yet",
    "I have not paid 3000",
    "Once I have paid 3000 I will tell you",
    "I paid 2 times already",
    "I paid 20 minutes ago",
    "I sent to 0712345678",
    "nimetuma 0712345678",
    "Paid 4/2/26",
    "I sent Ksh 3 000",                                  # not "3": a space-separated amount is not read
    "", "   ", "🙏🙏🙏", "\x00\x01\x02 ☃ ␀",
])
def test_messages_that_are_not_payments_read_as_nothing(text):
    assert read_payment_text(text, "KES") == []


def test_the_balance_and_the_transaction_cost_are_never_the_amount_paid():
    text = ("QJK3ABCD12 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM. "
            "New M-PESA balance is Ksh5,000.00. Transaction cost, Ksh13.00.")
    [read] = read_payment_text(text, "KES")
    assert read.amount == Decimal("3000.00")


# --- Bad input: doubtful reads carry doubts, never a guess.

def test_an_absurd_amount_is_read_but_doubted():
    text = MPESA_SENT.replace("Ksh3,000.00", "Ksh999,999,999,999")
    [read] = read_payment_text(text, "KES")
    assert read.amount == Decimal("999999999999.00")
    assert any("999,999,999,999.00" in doubt and "beyond belief" in doubt for doubt in read.doubts)


def test_an_amount_within_a_small_unit_currency_s_larger_ceiling_is_not_doubted():
    [read] = read_payment_text("I sent UGX 25,000,000", "UGX")
    assert read.amount == Decimal("25000000.00") and read.doubts == []


@pytest.mark.parametrize("garbage", ["3,00,0.00", "3.000,00", "1,2345.00", "3,000.00.00", "3.000"])
def test_a_garbage_amount_is_not_guessed(garbage):
    [read] = read_payment_text(MPESA_SENT.replace("3,000.00", garbage), "KES")
    assert read.amount is None
    assert read.transaction_code == "QJK3ABCD12"
    assert any(garbage in doubt for doubt in read.doubts)


def test_a_zero_amount_is_doubted():
    [read] = read_payment_text(MPESA_SENT.replace("Ksh3,000.00", "Ksh0.00"), "KES")
    assert read.amount == Decimal("0.00") and read.doubts == ["the amount is zero"]


def test_an_amount_too_long_to_be_money_is_doubted_not_crashed_on():
    [read] = read_payment_text(MPESA_SENT.replace("3,000.00", "9" * 31), "KES")
    assert read.amount is None and read.doubts


def test_two_confirmations_with_different_codes_are_both_read_and_both_doubted():
    second = MPESA_SENT.replace("QJK3ABCD12", "QJK3ABCD99").replace("3,000.00", "1,500.00")
    reads = read_payment_text(MPESA_SENT + "\n" + second, "KES")
    assert [(r.transaction_code, r.amount) for r in reads] == [
        ("QJK3ABCD12", Decimal("3000.00")), ("QJK3ABCD99", Decimal("1500.00"))]
    for read in reads:
        assert read.doubts == ["2 different transaction codes in one message: QJK3ABCD12, QJK3ABCD99"]


def test_another_code_beside_a_confirmation_is_a_doubt():
    [read] = read_payment_text(MPESA_SENT + " Also sent earlier: QJK7ZZZZ99", "KES")
    assert read.transaction_code == "QJK3ABCD12"
    assert read.doubts == ["2 different transaction codes in one message: QJK3ABCD12, QJK7ZZZZ99"]


@pytest.mark.parametrize("text", [
    MPESA_SENT + "\n" + MPESA_SENT,                      # pasted twice
    "Code QJK3ABCD12 👇\n" + MPESA_SENT,                  # quoted, then pasted
    MPESA_SENT + " my code is qjk3abcd12",              # typed again in lower case
])
def test_a_code_quoted_twice_is_one_read_and_no_doubt(text):
    [read] = read_payment_text(text, "KES")
    assert (read.transaction_code, read.amount, read.doubts) == ("QJK3ABCD12", Decimal("3000.00"), [])


def test_one_code_with_two_amounts_is_one_doubtful_read():
    text = MPESA_SENT + "\n" + MPESA_SENT.replace("3,000.00", "30,000.00")
    [read] = read_payment_text(text, "KES")
    assert read.doubts == ["code QJK3ABCD12 is quoted with different amounts: 3,000.00, 30,000.00"]


def test_a_claim_that_disagrees_with_the_confirmation_is_a_doubt():
    [read] = read_payment_text("I sent 5,000 👇 " + MPESA_SENT, "KES")
    assert read.amount == Decimal("3000.00")
    assert read.doubts == ["the message also says 5,000.00"]


def test_a_claim_that_agrees_with_the_confirmation_adds_nothing():
    [read] = read_payment_text("I have paid KES 3,000. " + MPESA_SENT, "KES")
    assert read.doubts == []


def test_a_confirmation_cut_short_before_its_code_is_read_with_a_doubt():
    [read] = read_payment_text("Ksh3,000.00 sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM.", "KES")
    assert (read.provider, read.transaction_code, read.amount) == ("M-PESA", None, Decimal("3000.00"))
    assert read.doubts == ["no transaction code in the confirmation"]


def test_a_date_that_does_not_exist_is_a_doubt():
    [read] = read_payment_text(MPESA_SENT.replace("4/2/26", "31/2/26"), "KES")
    assert read.time is None
    assert read.doubts == ["the date '31/2/26' does not exist"]


def test_two_claimed_amounts_are_two_doubtful_reads():
    reads = read_payment_text("I sent 1,500 yesterday and paid 1,000 today", "KES")
    assert [r.amount for r in reads] == [Decimal("1500.00"), Decimal("1000.00")]
    assert all(r.doubts == ["2 payments read from one message"] for r in reads)


def test_a_claim_with_two_codes_keeps_neither():
    [read] = read_payment_text("I paid 3,000, codes QJK3ABCD12 and QJK3ABCD99", "KES")
    assert read.transaction_code is None
    assert read.doubts == ["2 different transaction codes in one message: QJK3ABCD12, QJK3ABCD99"]


def test_a_claim_with_seven_codes_names_three_and_counts_the_rest():
    codes = [f"QJK3ABCD{n}" for n in range(10, 17)]
    [read] = read_payment_text(f"I paid 3,000, codes {' '.join(codes)}", "KES")
    assert read.doubts == ["7 different transaction codes in one message: QJK3ABCD10, QJK3ABCD11, QJK3ABCD12 "
                           "and 4 more"]


@pytest.mark.parametrize("text", ["I paid NaN", "paid KES NaN", "nimetuma Infinity", "paid Ksh inf", "I sent 10e400",
                                  "paid -3000", "QJK3ABCD12 Confirmed. KshNaN sent to LEGO MENSWEAR.",
                                  "QJK3ABCD12 Confirmed. Ksh1e400 sent to LEGO MENSWEAR."])
def test_nan_infinity_and_exponents_are_never_an_amount(text):
    assert [read.amount for read in read_payment_text(text, "KES") if read.amount is not None] == []


@pytest.mark.parametrize("raw, amount", [("3,000", "3000.00"), ("3000.5", "3000.50"), ("3,000.00.", "3000.00"),
                                         ("NaN", None), ("sNaN", None), ("Infinity", None), ("1e400", None),
                                         ("1e3", None), ("-3000", None), ("3.000,00", None), ("3000.005", None),
                                         ("9" * 31, None)])
def test_parse_amount_takes_money_as_people_write_it_and_nothing_else(raw, amount):
    assert parse_amount(raw) == (Decimal(amount) if amount else None)


def test_a_claim_without_a_currency_is_in_the_shops_currency():
    assert read_payment_text("nimetuma 2,500", "TZS")[0].currency == "TZS"
    assert read_payment_text("paid 2,500 shillings", "UGX")[0].currency == "UGX"


# --- check_amount

@pytest.mark.parametrize("amount, currency, total, expected", [
    (Decimal("3000.00"), "KES", Decimal("3000"), (None, "= order total")),
    (Decimal("1500.00"), "KES", "3000.00", ("amount_short", "short by 1,500.00")),
    (Decimal("3500.50"), "kes", 3000, ("amount_over", "over by 500.50")),
    (Decimal("1234567.00"), "KES", 1, ("amount_over", "over by 1,234,566.00")),
    (Decimal("50000.00"), "UGX", 3000, ("other_currency", "paid in UGX, the order is in KES: not converted")),
    (None, "KES", 3000, ("amount_unread", "no amount could be read")),
])
def test_the_amount_is_checked_against_the_order_total(amount, currency, total, expected):
    assert check_amount(amount, currency, total, "KES") == expected


# --- Bounded: a message as long as the webhook keeps yields a few reads with one-line doubts. What
# the worst of these costs is measured by `make bench` (its reader phase), never timed here.

@pytest.mark.parametrize("name", HOSTILE)
def test_a_20000_character_message_yields_a_few_reads_with_short_doubts(name):
    reads = read_payment_text(HOSTILE[name], "KES")

    assert len(reads) <= MAX_READS_PER_MESSAGE
    assert all(len(doubt) <= 200 for read in reads for doubt in read.doubts)
    assert all(len("; ".join(read.doubts)) <= 600 for read in reads)   # one line of an alert


@pytest.mark.parametrize("name", ["claims", "sent to, no code", "distinct codes", "airtel, TID last"])
def test_past_the_cap_the_first_reads_are_kept_and_say_the_rest_were_not_read(name):
    reads = read_payment_text(HOSTILE[name], "KES")

    assert [read.amount for read in reads] == [Decimal(n) for n in range(10, 10 + MAX_READS_PER_MESSAGE)]
    for read in reads:
        assert (f"more than {MAX_READS_PER_MESSAGE} payments in one message: only the first "
                f"{MAX_READS_PER_MESSAGE} were read") in read.doubts


@pytest.mark.parametrize("name", ["one confirmation pasted again and again", "a confirmation after 19,000 characters"])
def test_one_confirmation_in_a_20000_character_message_is_one_read_without_doubt(name):
    [read] = read_payment_text(HOSTILE[name], "KES")
    assert (read.transaction_code, read.amount, read.doubts) == ("QJK3ABCD12", Decimal("3000.00"), [])
