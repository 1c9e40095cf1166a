"""The provider table (bot/providers.py) read back on real-looking texts of each provider, with the
figures a shop must never take for the amount paid (balance, fee, "amount you can transact"), and
each provider named as its text names it. Issue 14 item 8's observed texts are the first rows."""
from datetime import datetime
from decimal import Decimal

import pytest

from bot.payment_texts import read_payment_text

# text, provider, kind, code, amount, currency, payee, time — read with the shop's currency KES.
TEXTS = [
    # Vodacom M-Pesa Tanzania, Swahili (observed: relayed as a question, no proof, unpaid)
    ("DFJ9B1FX2B imethibitishwa. Umetuma Tshs 4,000.00 kwa DEMO SHOP, Akaunti ****1234 tarehe 29/11/2026 saa "
     "19:38:24.", "M-PESA", "send money", "DFJ9B1FX2B", "4000.00", "TZS", "DEMO SHOP", datetime(2026, 11, 29, 19, 38, 24)),
    ("RKT4HX92LM Imethibitishwa. Umelipa Tsh10,000.00 kwa DEMO SHOP tarehe 29/11/26 saa 7:38 PM. Salio jipya la "
     "M-Pesa ni Tsh5,000.00. Ada Tsh0.00.", "M-PESA", "send money", "RKT4HX92LM", "10000.00", "TZS", "DEMO SHOP",
     datetime(2026, 11, 29, 19, 38)),
    ("QJK3ABCD16 Imethibitishwa. Ksh3,000.00 imetumwa kwa LEGO MENSWEAR 0712345678 tarehe 4/2/26 saa 9:36 PM. "
     "Salio lako jipya la M-PESA ni Ksh1,234.00. Gharama ya kutuma ni Ksh0.00.",     # Safaricom, in Swahili
     "M-PESA", "send money", "QJK3ABCD16", "3000.00", "KES", "LEGO MENSWEAR 0712345678", datetime(2026, 2, 4, 21, 36)),
    ("TGH7KL21MN imethibitishwa. Umetuma Tsh 25,000 kwa JUMA SHOP tarehe 1/12/2026 saa 08:15:02. Salio jipya ni "
     "Tsh 150,000.00.", "M-PESA", "send money", "TGH7KL21MN", "25000.00", "TZS", "JUMA SHOP", datetime(2026, 12, 1, 8, 15, 2)),
    # Selcom Pesa (observed)
    ("0426JXGC Accepted. You have sent TZS 50,000.00 to DEMO SHOP - Mixx by Yas (Tigo Pesa) (255710000000) on "
     "2026-11-29 19:30. Total charges TZS 550.00 (Fee 424, VAT 84, Ex Duty 42). Updated balance is TZS "
     "124,450.00.", "Selcom", "send money", "0426JXGC", "50000.00", "TZS",
     "DEMO SHOP - Mixx by Yas (Tigo Pesa) (255710000000)", datetime(2026, 11, 29, 19, 30)),
    # Mixx by Yas (observed: labelled Airtel Money)
    ("You have sent TSh 52,000 to Vodacom receiver DEMO SHOP - 255742000000. Charges TSh 1,200. VAT TSh 216. "
     "New balance is TSh 8,584. TxnID: 26495300000001.", "Mixx by Yas", "send money", "26495300000001",
     "52000.00", "TZS", "DEMO SHOP - 255742000000", None),
    ("You have sent TSh 15,000 to Airtel receiver DEMO SHOP - 255682000000. Charges TSh 700. New balance is TSh "
     "2,010. TxnID: 26495300000003.", "Mixx by Yas", "send money", "26495300000003", "15000.00", "TZS",
     "DEMO SHOP - 255682000000", None),
    # Nigerian banks' debit alerts (observed: none read)
    ("Acc: 30XXXX1234\nDR Amt: NGN15,000.00\nDesc: NIP TRF TO DEMO SHOP/000013251129193012345678\n"
     "Date: 29-Nov-2026 19:30\nBal: NGN45,210.50", "Bank transfer", "bank alert", "000013251129193012345678",
     "15000.00", "NGN", "DEMO SHOP", datetime(2026, 11, 29, 19, 30)),
    ("Acct: 0123****89\nAmt: NGN15,000.00 DR\nDesc: TRANSFER TO DEMO SHOP/REF 000013251129193012345679\n"
     "Avail Bal: NGN45,210.50\nDate: 29-Nov-2026 19:30", "Bank transfer", "bank alert",
     "000013251129193012345679", "15000.00", "NGN", "DEMO SHOP", None),
    ("Debit\nAmt:NGN15,000.00\nAcc:012****789\nDesc:TRF TO DEMO SHOP 000013251129193012345680\n"
     "Date:29/11/2026 19:30\nAvail Bal:NGN45,210.50\nTotal:NGN45,210.50", "Bank transfer", "bank alert",
     "000013251129193012345680", "15000.00", "NGN", "DEMO SHOP", datetime(2026, 11, 29, 19, 30)),
    ("Txn: Debit\nAcct:20**567\nAmt:NGN 3,200.00\nDesc:MOB TRF TO DEMO SHOP 100004261129193011223344\n"
     "Date:29-NOV-2026 19:32\nBal:NGN 1,050.00", "Bank transfer", "bank alert", "100004261129193011223344",
     "3200.00", "NGN", "DEMO SHOP", datetime(2026, 11, 29, 19, 32)),
    ("Acct:101**345 DR Amt:7,500.00 Desc:TRF TO DEMO SHOP REF:FBN26112912345 DT:29/11/2026 19:31 Bal:12,004.10",
     "Bank transfer", "bank alert", "FBN26112912345", "7500.00", "KES", "DEMO SHOP", datetime(2026, 11, 29, 19, 31)),
]


@pytest.mark.parametrize("text, provider, kind, code, amount, currency, payee, time", TEXTS,
                         ids=[f"{i:02d}-{row[1]}" for i, row in enumerate(TEXTS)])
def test_each_providers_text_is_read_for_code_amount_currency_payee_and_time(
        text, provider, kind, code, amount, currency, payee, time):
    [read] = read_payment_text(text, "KES")

    assert (read.provider, read.kind, read.transaction_code) == (provider, kind, code)
    assert (read.amount, read.currency) == (Decimal(amount), currency)
    assert (read.counterparty, read.time) == (payee, time)
    assert read.doubts == []


@pytest.mark.parametrize("text, amount", [
    (TEXTS[0][0], "4000.00"),    # not the account ****1234
    (TEXTS[1][0], "10000.00"),   # not the balance 5,000.00 (Salio)
    (TEXTS[4][0], "50000.00"),   # not the charges 550.00, the fee 424 or the balance 124,450.00
    (TEXTS[5][0], "52000.00"),   # not the charges 1,200 or the VAT 216
    (TEXTS[7][0], "15000.00"),   # not the balance 45,210.50
    ("QJK3ABCD13 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR for account LEG-1738704998-X7K2 on 4/2/26 at "
     "9:36 PM New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.Amount you can transact within the "
     "day is 497,000.00.", "3000.00"),   # not "the amount you can transact"
])
def test_the_balance_the_fee_and_the_amount_you_can_transact_are_never_the_amount(text, amount):
    assert [r.amount for r in read_payment_text(text, "KES")] == [Decimal(amount)]


def test_a_mixx_by_yas_transfer_is_not_named_airtel_money():
    [read] = read_payment_text(TEXTS[5][0], "KES")
    assert read.provider == "Mixx by Yas"


@pytest.mark.parametrize("text", [
    # a credit alert is money received, not the customer's payment
    "Acct: 0123****89\nAmt: NGN15,000.00 CR\nDesc: TRANSFER FROM JOHN DOE\nAvail Bal: NGN45,210.50",
    "Credit Alert! Amt:NGN5,000.00 Acc:012****789 Desc:TRF FROM AMINA Bal:NGN50,000.00",
    # balances and failures
    "Salio lako la M-Pesa ni Tsh 5,000.00.",
    "Acct: 0123****89 Avail Bal: NGN45,210.50",
])
def test_texts_that_are_not_payments_sent_read_as_nothing(text):
    assert read_payment_text(text, "NGN") == []


def test_a_bank_alert_names_the_order_in_its_description():
    text = ("Debit\nAmt:NGN15,000.00\nAcc:012****789\nDesc:TRF TO DEMO SHOP LEG-1795969230-ORER "
            "000013251129193012345680\nDate:29/11/2026 19:30")
    [read] = read_payment_text(text, "NGN")
    assert "LEG-1795969230-ORER" in read.account and read.transaction_code == "000013251129193012345680"
