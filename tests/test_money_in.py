"""The money-in texts of the provider table (bot/providers.py `received`), read by bot/money_in.py into
what the shop's ledger keeps: code, amount, currency, payer name and phone (whole, or masked as the
text prints it), account, time. The balance, the charges and the limits are never the amount."""
from datetime import datetime
from decimal import Decimal

import pytest

from bot.money_in import MAX_PER_TEXT, read_money_in
from bot.payment_texts import read_payment_text
from bot.providers import PROVIDERS, RECEIVED
from tests.hostile_texts import HOSTILE
from tests.test_providers import TEXTS as SENT_TEXTS

REF = "LEG-1738704998-X7K2"

# text, provider, kind, code, amount, currency, payer, phone, masked, account, time — read in KES/KE.
RECEIVED_TEXTS = [
    # Safaricom M-PESA, a person's payment (the balance after it is not the amount)
    ("QJK3ABCD21 Confirmed.You have received Ksh3,000.00 from JOHN DOE 0712345678 on 4/2/26 at 9:36 PM New "
     "M-PESA balance is Ksh5,234.00. Separate personal and business funds through Pochi la Biashara on *334#.",
     "M-PESA", "received", "QJK3ABCD21", "3000.00", "KES", "JOHN DOE", "+254712345678", False, None,
     datetime(2026, 2, 4, 21, 36)),
    # the number masked as Safaricom prints it now; a payer with initials
    ("RKL4XYZ123 Confirmed. You have received Ksh1,500.00 from J. K. MWANGI 0722***123 on 21/11/26 at 10:15 AM "
     "New M-PESA balance is Ksh6,734.00. Buy goods with M-PESA.",
     "M-PESA", "received", "RKL4XYZ123", "1500.00", "KES", "J. K. MWANGI", "0722***123", True, None,
     datetime(2026, 11, 21, 10, 15)),
    # Lipa na M-PESA Till: the time first, the number before the name; the transaction cost is not the amount
    ("QJK3ABCD22 Confirmed. on 4/2/26 at 9:36 PM Ksh1,500.00 received from 254712345678 JOHN K. DOE. New Account "
     "balance is Ksh12,345.00. Transaction cost, Ksh0.00.",
     "M-PESA", "Till", "QJK3ABCD22", "1500.00", "KES", "JOHN K. DOE", "+254712345678", False, None,
     datetime(2026, 2, 4, 21, 36)),
    # Paybill with the order as its account, the number masked in the middle
    (f"QJK3ABCD23 Confirmed. on 4/2/26 at 9:40 PM Ksh3,000.00 received from 2547******678 AMINA OTIENO. Account "
     f"Number {REF} New Utility balance is Ksh45,000.00",
     "M-PESA", "Till", "QJK3ABCD23", "3000.00", "KES", "AMINA OTIENO", "2547******678", True, REF,
     datetime(2026, 2, 4, 21, 40)),
    (f"QJK3ABCD24 Confirmed. Ksh3,000.00 received from AMINA OTIENO 254712345678 for account {REF} on 4/2/26 at "
     f"9:36 PM. New Utility balance is Ksh48,000.00.",
     "M-PESA", "Paybill", "QJK3ABCD24", "3000.00", "KES", "AMINA OTIENO", "+254712345678", False, REF,
     datetime(2026, 2, 4, 21, 36)),
    # Swahili: Vodacom Tanzania (number first, a Tanzanian number read in TZ) and Safaricom
    ("RKT4HX92LN Imethibitishwa. Umepokea Tsh10,000.00 kutoka kwa 255754123456 - JUMA ALLY tarehe 29/11/26 saa "
     "7:38 PM. Salio jipya la M-Pesa ni Tsh15,000.00.",
     "M-PESA", "received", "RKT4HX92LN", "10000.00", "TZS", "JUMA ALLY", "+255754123456", False, None,
     datetime(2026, 11, 29, 19, 38)),
    ("QJK3ABCD25 Imethibitishwa. Umepokea Ksh3,000.00 kutoka kwa JOHN DOE 0712***678 tarehe 4/2/26 saa 9:36 PM. "
     "Salio lako jipya la M-PESA ni Ksh5,234.00.",
     "M-PESA", "received", "QJK3ABCD25", "3000.00", "KES", "JOHN DOE", "0712***678", True, None,
     datetime(2026, 2, 4, 21, 36)),
    # Mixx by Yas (Tigo Pesa), English and Swahili
    ("You have received TSh 20,000 from JUMA ALLY - 255713123456. New balance is TSh 25,000. TxnID: 26495300000004.",
     "Mixx by Yas", "received", "26495300000004", "20000.00", "TZS", "JUMA ALLY", "+255713123456", False, None,
     None),
    ("Umepokea TSh 35,000 kutoka kwa HALIMA S. JUMA - 255715987654. Salio jipya ni TSh 60,000. TxnID: "
     "26495300000005.",
     "Mixx by Yas", "received", "26495300000005", "35000.00", "TZS", "HALIMA S. JUMA", "+255715987654", False,
     None, None),
    # Airtel Money: the TID first (Kenya), last (Uganda, with a Reason naming the order)
    ("TID: MP250204.1234.B12345. You have received KES 1,500.00 from JOHN DOE 0733123456. Your balance is KES "
     "3,000.00.",
     "Airtel Money", "received", "MP250204.1234.B12345", "1500.00", "KES", "JOHN DOE", "+254733123456", False,
     None, None),
    (f"You have received UGX 50,000 from P. NAKATO, 0701234567. Reason: {REF}. Your balance is UGX 170,500. "
     f"Txn Id: 55825852046.",
     "Airtel Money", "received", "55825852046", "50000.00", "UGX", "P. NAKATO", "+256701234567", False, REF, None),
    # MTN MoMo: a Ghanaian merchant's payment, Uganda with the number in brackets, Ghana person to person
    (f"Payment received for GHS 150.00 from KWAME A. MENSAH Current Balance: GHS 1192.16 . Available Balance: GHS "
     f"1192.16. Reference: {REF}. Transaction ID: 90078777180. Fee charged: GHS0.00 Tax charged: 0.",
     "MTN MoMo", "payment received", "90078777180", "150.00", "GHS", "KWAME A. MENSAH", None, False, REF, None),
    (f"You have received UGX 204,725 from JOHN DOE (256772123456) on 2025-02-04 21:36:34. Reason: {REF}. Your new "
     f"balance: UGX 408,926. Fee was UGX 0. Financial Transaction Id: 13114283720.",
     "MTN MoMo", "received", "13114283720", "204725.00", "UGX", "JOHN DOE", "+256772123456", False, REF,
     datetime(2025, 2, 4, 21, 36, 34)),
    ("You have received GHS 50.00 from AMA SERWAA 233241234567. Your new balance is GHS 100.00. Reference: shirt. "
     "Transaction ID: 47123456789.",
     "MTN MoMo", "received", "47123456789", "50.00", "GHS", "AMA SERWAA", "+233241234567", False, "shirt", None),
    # Banks' credit alerts: the available balance is not the amount; the payer and the reference are in Desc
    ("Acct:101**345 CR Amt:7,500.00 Desc:TRF FROM AMINA OTIENO REF:FBN26112954321 DT:29/11/2026 19:31 "
     "Bal:19,504.10",
     "Bank transfer", "credit alert", "FBN26112954321", "7500.00", "KES", "AMINA OTIENO", None, False,
     "TRF FROM AMINA OTIENO REF:FBN26112954321", datetime(2026, 11, 29, 19, 31)),
    ("Acct: 0123****89\nAmt: NGN15,000.00 CR\nDesc: TRANSFER FROM JOHN DOE/REF 000013251129193012345699\n"
     "Avail Bal: NGN60,210.50\nDate: 29-Nov-2026 19:30",
     "Bank transfer", "credit alert", "000013251129193012345699", "15000.00", "NGN", "JOHN DOE", None, False,
     "TRANSFER FROM JOHN DOE/REF 000013251129193012345699", None),
    ("Credit\nAmt:NGN15,000.00\nAcc:012****789\nDesc:NIP FRM J.K. MWANGI LEG-1795969230-ORER "
     "000013251129193012345681\nDate:29/11/2026 19:30\nAvail Bal:NGN60,210.50",
     "Bank transfer", "credit alert", "000013251129193012345681", "15000.00", "NGN", "J.K. MWANGI", None, False,
     "NIP FRM J.K. MWANGI LEG-1795969230-ORER 000013251129193012345681", datetime(2026, 11, 29, 19, 30)),
    ("Dear Customer, your account 0123XXXXX789 has been credited with KES 3,000.00 from JOHN DOE 254712345678 on "
     "04/02/2026 21:36. Ref: S12345678X. Available balance KES 10,000.00.",
     "Bank transfer", "credit alert", "S12345678X", "3000.00", "KES", "JOHN DOE", "+254712345678", False, None,
     datetime(2026, 2, 4, 21, 36)),
]


@pytest.mark.parametrize("text, provider, kind, code, amount, currency, payer, phone, masked, account, time",
                         RECEIVED_TEXTS, ids=[f"{i:02d}-{row[1]}" for i, row in enumerate(RECEIVED_TEXTS)])
def test_each_money_in_text_is_read_for_code_amount_payer_phone_account_and_time(
        text, provider, kind, code, amount, currency, payer, phone, masked, account, time):
    [read] = read_money_in(text, "KES", "KE")

    assert (read.provider, read.kind, read.transaction_code) == (provider, kind, code)
    assert (read.amount, read.currency) == (Decimal(amount), currency)
    assert (read.payer_name, read.payer_phone, read.payer_phone_masked) == (payer, phone, masked)
    assert (read.account, read.time) == (account, time)


@pytest.mark.parametrize("text, amount", [
    (RECEIVED_TEXTS[0][0], "3000.00"),    # not the M-PESA balance 5,234.00
    (RECEIVED_TEXTS[2][0], "1500.00"),    # not the account balance 12,345.00 nor the cost 0.00
    (RECEIVED_TEXTS[7][0], "20000.00"),   # not the new balance 25,000
    (RECEIVED_TEXTS[11][0], "150.00"),    # not the current or available balance 1192.16, nor the fee
    (RECEIVED_TEXTS[12][0], "204725.00"),  # not the new balance 408,926 nor the fee
    (RECEIVED_TEXTS[15][0], "15000.00"),  # not the available balance 60,210.50
    (RECEIVED_TEXTS[17][0], "3000.00"),   # not the available balance 10,000.00
])
def test_the_balance_and_the_charges_are_never_the_amount_received(text, amount):
    assert [read.amount for read in read_money_in(text, "KES", "KE")] == [Decimal(amount)]


@pytest.mark.parametrize("printed", ["0712***678", "254712XXX678", "2547******78", "+254 7xx xxx 678"])
def test_a_masked_payer_number_is_kept_as_printed_and_marked_masked(printed):
    text = (f"QJK3ABCD26 Confirmed. You have received Ksh500.00 from JANE W. DOE {printed} on 4/2/26 at 9:36 PM "
            f"New M-PESA balance is Ksh5,734.00.")
    reads = read_money_in(text, "KES", "KE")
    if " " in printed:   # spaced out: not a number the text gives at all
        assert [(r.payer_phone, r.payer_phone_masked) for r in reads] in ([], [(None, False)])
        return
    [read] = reads
    assert (read.payer_phone, read.payer_phone_masked, read.payer_name) == (printed, True, "JANE W. DOE")


def test_every_received_format_reads_its_own_samples():
    assert all(fmt.samples for provider in PROVIDERS for fmt in provider.received)
    for provider, fmt in RECEIVED:
        for sample in fmt.samples:
            [read] = read_money_in(sample, "KES", "KE")
            assert (read.provider, read.kind) == (provider, fmt.kind), sample
            assert read.amount > 0 and read.amount.as_tuple().exponent == -2
            assert read.payer_name


def test_the_texts_cover_every_money_in_provider():
    assert {row[1] for row in RECEIVED_TEXTS} >= {"M-PESA", "Airtel Money", "MTN MoMo", "Mixx by Yas", "Bank transfer"}


@pytest.mark.parametrize("text", [
    *[row[0] for row in SENT_TEXTS],                       # money the customer sent: a claim, not the shop's
    "QJK3ABCD12 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM.",
    "I have paid 3,000 for LEG-1738704998-X7K2",
    "Your M-PESA balance is Ksh5,234.00.",
    "Acct: 0123****89 Avail Bal: NGN45,210.50",
    "QJK3ABCD27 Confirmed. You have received Ksh0.00 from JOHN DOE 0712345678 on 4/2/26 at 9:36 PM.",   # zero
    "QJK3ABCD28 Confirmed. You have received Ksh99,999,999,999.00 from JOHN DOE 0712345678 on 4/2/26 at 9:36 PM.",
])
def test_texts_that_are_not_money_received_read_as_nothing(text):
    assert read_money_in(text, "KES", "KE") == []


@pytest.mark.parametrize("row", RECEIVED_TEXTS, ids=[f"{i:02d}" for i in range(len(RECEIVED_TEXTS))])
def test_a_customer_forwarding_a_money_in_text_is_not_reading_a_payment_to_the_shop(row):
    assert [read for read in read_payment_text(row[0], "KES") if read.kind != "claim"] == []


def test_a_text_pasted_twice_is_one_payment():
    text = RECEIVED_TEXTS[0][0] + "\n" + RECEIVED_TEXTS[0][0]
    assert len(read_money_in(text, "KES", "KE")) == 1


@pytest.mark.parametrize("name", HOSTILE)
def test_a_20000_character_message_yields_at_most_a_few_entries(name):
    assert len(read_money_in(HOSTILE[name], "KES", "KE")) <= MAX_PER_TEXT
