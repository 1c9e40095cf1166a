"""The table of money-transfer confirmations orderdesk reads (CONTRACT §4): one `Provider` per
service, each with the `Format`s its texts come in — how to spot one (`pattern`) and where its code,
amount, currency, payee, account and date are (the pattern's named groups) — and real-looking
samples, which tests/test_payment_texts.py reads back through bot/payment_texts.py.

Sources of the formats: the SMS texts the services send, as customers forward them to shops —
Safaricom M-PESA (Kenya), Vodacom M-Pesa (Tanzania, English and Swahili), Airtel Money (Kenya,
Uganda, Tanzania), MTN MoMo (Ghana, Uganda), Mixx by Yas (Tanzania, formerly Tigo Pesa), Selcom
Pesa, and the debit alerts Nigerian banks send (`Amt:`/`DR Amt:`, `Acc:`, `Desc:`, `Bal:` lines).

To add a format: add a `Format` (or a `Provider`) with two or three samples; the tests read every
sample back, and the bounds (every gap bounded, a name once ended not retried longer) keep each
pattern's cost a constant per character. Where two formats match at the same place, the one
earlier in this table wins: a specific format goes before a general one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# How currencies are written -> ISO code. None: "shillings" without saying whose, so the shop's own.
CURRENCY_WORDS: dict[str, str | None] = {
    "ksh": "KES", "kshs": "KES", "kes": "KES", "bob": "KES",
    "tsh": "TZS", "tshs": "TZS", "tzs": "TZS",
    "ugx": "UGX", "ush": "UGX", "ushs": "UGX",
    "ghs": "GHS", "ghc": "GHS", "gh₵": "GHS", "gh¢": "GHS", "cedi": "GHS", "cedis": "GHS",
    "rwf": "RWF", "frw": "RWF", "zmw": "ZMW", "mwk": "MWK", "ngn": "NGN", "₦": "NGN",
    "usd": "USD", "$": "USD",
    "sh": None, "shs": None, "/=": None, "shilling": None, "shillings": None,
}

# --- Fragments the formats are written in (the text is normalised first: one space between words).
CURRENCY = ("(?<![A-Za-z])(?:" + "|".join(re.escape(word) for word in sorted(CURRENCY_WORDS, key=len, reverse=True))
            + ")(?![A-Za-z])")
NUMBER = r"[0-9][0-9,.]{0,30}"   # loose on purpose: the reader judges it, so garbage is flagged
MONEY = (rf"(?:(?P<currency>{CURRENCY})\.?\s?(?P<amount>{NUMBER})"
         rf"|(?<![0-9.,])(?P<amount_after>{NUMBER})\s?(?P<currency_after>{CURRENCY}))")
# A bank alert may give the amount with or without its currency (`Amt:15,000.00`).
BANK_MONEY = rf"(?:{MONEY}|(?P<amount_bare>{NUMBER}))"
DATE = (r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}-[A-Za-z]{3,9}-[0-9]{2,4}")
TIME = r"[0-9]{1,2}[:.][0-9]{2}(?::[0-9]{2})?(?:\s?[AP]M)?"
# "on 4/2/26 at 9:36 PM", "tarehe 29/11/2026 saa 19:38:24" (Swahili: date, hour).
WHEN = rf"(?<![0-9/])(?P<date>{DATE})(?![0-9])(?:,?\s(?:at\s|saa\s)?(?P<time>{TIME}))?"
# M-PESA: the code opens the message ("QJK3ABCD12 Confirmed." / Swahili "Imethibitishwa."); 8 to 12.
_CODE = r"(?<![A-Za-z0-9])(?P<code>(?=[A-Z]{0,11}[0-9])(?=[0-9]{0,11}[A-Z])[A-Z0-9]{8,12})"
MPESA_CODE = rf"(?:{_CODE}\s?Confirmed\.?\s?)?"
MPESA_CODE_SW = rf"(?:{_CODE}\s?Imethibitishwa\.?\s?)?"
# Who was paid, up to " on <date>" or the start of the balance sentence. Names may hold dots (F.M STORES).
MPESA_NAME = r"(?P<counterparty>.{1,80}?)"
MPESA_ACCOUNT = r"(?P<account>.{1,60}?)"
MPESA_END = (r"(?:\.?\son\s(?:" + DATE + r")(?:,?\s(?:at\s)?(?:" + TIME + r"))?"
             r"|\.?(?=\sNew\s)|\.?\s*$|\.(?=\s))")
# The date after the payee ("on 2026-11-29 19:30", "tarehe 29/11/2026 saa 19:38:24"), so it is read.
WHEN_AFTER = rf"(?:,?\s(?:on|tarehe)\s(?:{DATE})(?![0-9])(?:,?\s(?:at\s|saa\s)?(?:{TIME}))?)?"
# Swahili: the name ends at ", Akaunti", " tarehe" (date) or a sentence's end.
SW_NAME = (r"(?>(?P<counterparty>[^,]{1,80}?)(?=,|\s(?:tarehe|Akaunti|kwa\sakaunti)\b|\.\s|\.?\s*$))")
SW_ACCOUNT = r"(?:,?\s(?:kwa\s)?Akaunti\s(?:(?:namba|no\.?)\s)?(?P<account>[^\s,]{1,40}))?"
# Airtel, MTN, Mixx, Selcom: who was paid, up to the first full stop or the next part of the message.
# Atomic: once the name has ended it is not retried longer, which keeps the GAP after it linear.
NAME = (r"(?>(?P<counterparty>[^.]{1,80}?)(?=\s?\.|,\s(?:fee|reason)|\s(?:on|at)\s[0-9]"
        r"|\s(?:from|Date|Current|Reference|Reason|Transaction|Fee|Charges?|Your|New|Total|Updated)\b|\s*$))")
GAP = r".{0,300}?"   # the other sentences between the payment and its code (balances, fees)
LABELLED_CODE = r"(?P<code>(?=[A-Z0-9.]{0,30}[0-9])[A-Z0-9]{6,20}(?:\.[A-Z0-9]{2,20}){0,3})"
AIRTEL_ID = rf"(?<![A-Za-z])(?:TID|Trans\.?\s?ID|Txn\.?\s?ID)\s?:?\s?{LABELLED_CODE}"
MTN_ID = r"(?<![A-Za-z])(?:(?:Financial\s)?Transaction\s?ID|ID)\s?:?\s?(?P<code>[0-9]{6,15})"
# Bank alerts: the description, up to the next label of the alert; the payee, code and order
# reference are read from inside it (bot/payment_texts.py `read_description`).
BANK_LABELS = r"(?:Date|DT|Bal|Avail|Available|Acc|Acct|Account|Total|Time|Amt|Cr|Dr)\b"
BANK_DESC = (rf"(?:{GAP}(?<![A-Za-z])Desc(?:ription)?\s?:\s?(?P<desc>.{{1,120}}?)(?=\s{BANK_LABELS}|\s*$)"
             rf"(?:\s(?:Date|DT)\s?:\s?(?:{DATE})(?:\s(?:{TIME}))?)?)?")


# --- Money in (the `received` formats): the texts the shop's own phone gets when it is paid. The code
# is required where the provider always prints one (M-PESA), so a customer's words never read as one.
MPESA_CODE_IN = rf"{_CODE}\s?Confirmed\.?\s?"
MPESA_CODE_IN_SW = rf"{_CODE}\s?Imethibitishwa\.?\s?"
# Who paid: a name holds no digits, and may hold initials' dots (J. K. MWANGI); then their number,
# whole (0712345678, 254712345678) or masked as banks and M-PESA print it (0712***678, 254712XXX678).
PAYER = r"(?P<payer>[A-Za-z][^0-9]{0,79}?)"
PHONE = r"\+?[0-9][0-9*Xx•]{7,13}[0-9]"
PAYER_PHONE = rf"\(?(?P<payer_phone>{PHONE})\)?(?![0-9A-Za-z*])"
ACCOUNT_IN = r"(?P<account>[^\s]{1,60})"
ON_DATE = rf"\.?\s(?:on|tarehe|mnamo)\s(?:{DATE})(?![0-9])(?:,?\s(?:at\s|saa\s)?(?:{TIME}))?"
# Where a payer's name ends when no date follows it: the next sentence of the text.
PAYER_END = (r"(?=\.?\s(?:(?:Your|Reason|Reference|Trans|Txn|TID|New|Balance|Bal|Current|Available|Fee|Ref|"
             r"Message)\b|on\s[0-9])|,\s|\.?\s*$)")


@dataclass(frozen=True)
class Format:
    """One way a provider writes a confirmation of money sent. `pattern`'s named groups: `amount` and
    `currency` (or `amount_after`/`currency_after` when the amount comes first, or `amount_bare`
    without a currency), `counterparty`, and where the format has them `code`, `account` and `desc`
    (a bank alert's description). Date and time are found inside the match."""
    kind: str
    pattern: str
    samples: tuple[str, ...]
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern, re.IGNORECASE))


@dataclass(frozen=True)
class Provider:
    name: str              # as the texts name it, so the admin checks the right wallet
    formats: tuple[Format, ...]
    # Money *in*: the texts the shop's own phone gets when it is paid (CONTRACT §4, the shop's ledger).
    # Their groups: the money as above, `payer` and `payer_phone` (full, or masked as printed), and
    # where the format has them `code`, `account` and `desc`. Read by bot/money_in.py.
    received: tuple[Format, ...] = ()


PROVIDERS: tuple[Provider, ...] = (
    Provider("M-PESA", formats=(
        Format("Paybill", rf"{MPESA_CODE}{MONEY} sent to {MPESA_NAME} for account {MPESA_ACCOUNT}{MPESA_END}", (
            "QJK3ABCD13 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR for account LEG-1738704998-X7K2 "
            "on 4/2/26 at 9:36 PM New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00."
            "Amount you can transact within the day is 497,000.00.",
            "AGD0A4SY2ZC Confirmed. Tsh9,999.00 sent to LUKU for account 37212457040 on 13/7/23 at 10:18 PM "
            "Total fee Tsh100.00 (M-Pesa fee Tsh100.00 + Government Levy Tsh0.00). Balance is Tsh1,748.00.",
        )),
        Format("Buy Goods", rf"{MPESA_CODE}{MONEY} paid to {MPESA_NAME}{MPESA_END}", (
            "QJK3ABCD14 Confirmed. Ksh1,500.00 paid to LEGO MENSWEAR. on 4/2/26 at 9:36 PM.New M-PESA "
            "balance is Ksh1,234.00. Transaction cost, Ksh0.00. Amount you can transact within the day "
            "is 498,500.00.",
        )),
        Format("send money", rf"{MPESA_CODE}{MONEY} sent to {MPESA_NAME}{MPESA_END}", (
            "QJK3ABCD12 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM. "
            "New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.",
        )),
        # Swahili (Vodacom Tanzania, and Safaricom's Swahili texts): "Umetuma"/"Umelipa" = you sent/paid.
        Format("send money", rf"{MPESA_CODE_SW}(?:Umetuma|Umelipa)\s{MONEY}\skwa\s{SW_NAME}{SW_ACCOUNT}{WHEN_AFTER}", (
            "DFJ9B1FX2B imethibitishwa. Umetuma Tshs 4,000.00 kwa DEMO SHOP, Akaunti ****1234 tarehe "
            "29/11/2026 saa 19:38:24.",
            "RKT4HX92LM Imethibitishwa. Umelipa Tsh10,000.00 kwa DEMO SHOP tarehe 29/11/26 saa 7:38 PM. "
            "Salio jipya la M-Pesa ni Tsh5,000.00. Ada Tsh0.00.",
        )),
        Format("send money", rf"{MPESA_CODE_SW}{MONEY}\simetumwa\skwa\s{SW_NAME}{SW_ACCOUNT}{WHEN_AFTER}", (
            "QJK3ABCD16 Imethibitishwa. Ksh3,000.00 imetumwa kwa LEGO MENSWEAR 0712345678 tarehe 4/2/26 saa "
            "9:36 PM. Salio lako jipya la M-PESA ni Ksh1,234.00. Gharama ya kutuma ni Ksh0.00.",
        )),
    ), received=(
        Format("received", rf"{MPESA_CODE_IN}You have received\s{MONEY}\sfrom\s{PAYER}(?:\s{PAYER_PHONE})?"
                           rf"(?:\sfor account\s{ACCOUNT_IN})?{ON_DATE}", (
            "QJK3ABCD21 Confirmed.You have received Ksh3,000.00 from JOHN DOE 0712345678 on 4/2/26 at 9:36 PM "
            "New M-PESA balance is Ksh5,234.00. Separate personal and business funds through Pochi la Biashara "
            "on *334#.",
            "RKL4XYZ123 Confirmed. You have received Ksh1,500.00 from J. K. MWANGI 0722***123 on 21/11/26 at "
            "10:15 AM New M-PESA balance is Ksh6,734.00. Buy goods with M-PESA.",
        )),
        # Lipa na M-PESA (Till, Buy Goods) and Paybill: the time first, the payer's number before the name.
        Format("Till", rf"{MPESA_CODE_IN}(?:on\s(?:{DATE})\sat\s(?:{TIME})\s)?{MONEY}\sreceived from\s"
                       rf"{PAYER_PHONE}\s{PAYER}(?=\.?\s(?:New|Account|Transaction)\b|\.?\s*$)"
                       rf"(?:\.?\sAccount(?:\sNumber)?\s?:?\s{ACCOUNT_IN})?", (
            "QJK3ABCD22 Confirmed. on 4/2/26 at 9:36 PM Ksh1,500.00 received from 254712345678 JOHN K. DOE. New "
            "Account balance is Ksh12,345.00. Transaction cost, Ksh0.00.",
            "QJK3ABCD23 Confirmed. on 4/2/26 at 9:40 PM Ksh3,000.00 received from 2547******678 AMINA OTIENO. "
            "Account Number LEG-1738704998-X7K2 New Utility balance is Ksh45,000.00",
        )),
        Format("Paybill", rf"{MPESA_CODE_IN}{MONEY}\sreceived from\s{PAYER}(?:\s{PAYER_PHONE})?"
                          rf"\sfor account\s{ACCOUNT_IN}{ON_DATE}", (
            "QJK3ABCD24 Confirmed. Ksh3,000.00 received from AMINA OTIENO 254712345678 for account "
            "LEG-1738704998-X7K2 on 4/2/26 at 9:36 PM. New Utility balance is Ksh48,000.00.",
        )),
        # Swahili: "Umepokea" = you have received; Vodacom Tanzania writes the number first.
        Format("received", rf"{MPESA_CODE_IN_SW}Umepokea\s{MONEY}\skutoka\s(?:kwa\s)?{PAYER_PHONE}\s-\s"
                           rf"{PAYER}{ON_DATE}", (
            "RKT4HX92LN Imethibitishwa. Umepokea Tsh10,000.00 kutoka kwa 255754123456 - JUMA ALLY tarehe "
            "29/11/26 saa 7:38 PM. Salio jipya la M-Pesa ni Tsh15,000.00.",
        )),
        Format("received", rf"{MPESA_CODE_IN_SW}Umepokea\s{MONEY}\skutoka\s(?:kwa\s)?{PAYER}"
                           rf"(?:\s{PAYER_PHONE})?{ON_DATE}", (
            "QJK3ABCD25 Imethibitishwa. Umepokea Ksh3,000.00 kutoka kwa JOHN DOE 0712***678 tarehe 4/2/26 saa "
            "9:36 PM. Salio lako jipya la M-PESA ni Ksh5,234.00.",
        )),
    )),
    Provider("Selcom", (
        # Selcom Pesa: the code, "Accepted", then where the money went (any network's wallet).
        Format("send money", rf"(?<![A-Za-z0-9])(?P<code>(?=[A-Z]{{0,11}}[0-9])[A-Z0-9]{{6,12}})\sAccepted\.?\s"
                             rf"You have sent\s{MONEY}\sto\s{NAME}{WHEN_AFTER}", (
            "0426JXGC Accepted. You have sent TZS 50,000.00 to DEMO SHOP - Mixx by Yas (Tigo Pesa) "
            "(255710000000) on 2026-11-29 19:30. Total charges TZS 550.00 (Fee 424, VAT 84, Ex Duty 42). "
            "Updated balance is TZS 124,450.00.",
            "7781KQZP Accepted. You have sent TZS 12,500.00 to DEMO SHOP - Vodacom M-Pesa (255754000000) on "
            "2026-11-30 08:05. Total charges TZS 300.00 (Fee 231, VAT 46, Ex Duty 23). Updated balance is "
            "TZS 7,200.00.",
        )),
    )),
    Provider("Mixx by Yas", (
        # Formerly Tigo Pesa. "to Vodacom receiver": the payee's wallet is another network's; `TxnID`.
        Format("send money", rf"(?<![A-Za-z])You have sent\s{MONEY}\sto\s"
                             rf"(?:(?:Vodacom|Airtel|Halotel|TTCL|Zantel|Mixx(?:\sby\sYas)?|Tigo(?:\sPesa)?)"
                             rf"\sreceiver\s)?{NAME}{GAP}(?<![A-Za-z])TxnID\s?:\s?(?P<code>[0-9]{{8,20}})", (
            "You have sent TSh 52,000 to Vodacom receiver DEMO SHOP - 255742000000. Charges TSh 1,200. VAT "
            "TSh 216. New balance is TSh 8,584. TxnID: 26495300000001.",
            "You have sent TSh 20,000 to DEMO SHOP - 255710000000. Charges TSh 0. New balance is TSh 5,000. "
            "TxnID: 26495300000002. Thank you for using Mixx by Yas.",
        )),
    ), received=(
        Format("received", rf"(?<![A-Za-z])(?:You have received|Umepokea)\s{MONEY}\s(?:from|kutoka kwa)\s"
                           rf"{PAYER}\s-\s{PAYER_PHONE}{GAP}(?<![A-Za-z])TxnID\s?:\s?(?P<code>[0-9]{{8,20}})", (
            "You have received TSh 20,000 from JUMA ALLY - 255713123456. New balance is TSh 25,000. TxnID: "
            "26495300000004.",
            "Umepokea TSh 35,000 kutoka kwa HALIMA S. JUMA - 255715987654. Salio jipya ni TSh 60,000. TxnID: "
            "26495300000005.",
        )),
    )),
    Provider("Airtel Money", (
        Format("send money",   # the TID first: Kenya, Uganda, Tanzania
               rf"(?<![A-Za-z])TID\s?:?\s?{LABELLED_CODE}\.?\s(?:Dear Customer,?\s)?(?:You have\s)?"
               rf"(?:sent|paid)\s{MONEY}\s(?:to|for)\s{NAME}", (
                   "TID: MP250204.1234.A12345. You have sent UGX 50,000 to 0701234567 LEGO MENSWEAR. "
                   "Charge UGX 500. Your balance is UGX 120,500.",
               )),
        Format("send money",   # the TID last: Uganda
               rf"(?<![A-Za-z])(?:You have\s)?(?:sent|paid)\s{MONEY}\s(?:to|for)\s{NAME}{GAP}{AIRTEL_ID}", (
                   "You have sent UGX 50,000 to LEGO MENSWEAR . Date 04-February-2025 21:36, "
                   "Your Balance is UGX 99,699. Txn Id: 55825852045.",
               )),
    ), received=(
        Format("received",   # the TID first: Kenya, Tanzania
               rf"(?<![A-Za-z])TID\s?:?\s?{LABELLED_CODE}\.?\s(?:Dear Customer,?\s)?(?:You have\s)?received\s"
               rf"{MONEY}\sfrom\s{PAYER}(?:,?\s{PAYER_PHONE})?{PAYER_END}", (
                   "TID: MP250204.1234.B12345. You have received KES 1,500.00 from JOHN DOE 0733123456. Your "
                   "balance is KES 3,000.00.",
               )),
        Format("received",   # the TID last: Uganda
               rf"(?<![A-Za-z])You have received\s{MONEY}\sfrom\s{PAYER}(?:,?\s{PAYER_PHONE})?{PAYER_END}"
               rf"{GAP}{AIRTEL_ID}", (
                   "You have received UGX 50,000 from P. NAKATO, 0701234567. Reason: LEG-1738704998-X7K2. Your "
                   "balance is UGX 170,500. Txn Id: 55825852046.",
               )),
    )),
    Provider("MTN MoMo", (
        Format("payment",      # Ghana and Uganda; the code is sometimes left off
               rf"(?<![A-Za-z])Payment made for\s{MONEY}\sto\s{NAME}(?:{GAP}{MTN_ID})?", (
                   "Payment made for GHS 150.00 to LEGO MENSWEAR Current Balance: GHS 1042.16 . Available "
                   "Balance: GHS 1042.16. Reference: LEG-1738704998-X7K2. Transaction ID: 90078777179. Fee "
                   "charged: GHS1.50 Tax charged: 0. Download the MoMo App for a Faster & Easier Experience.",
               )),
        Format("send money",   # Uganda and Ghana
               rf"(?<![A-Za-z])You have (?:sent|transferred|paid)\s{MONEY}\s(?:to|for)\s{NAME}{GAP}{MTN_ID}", (
                   "You have sent UGX 204,725 to LEGO MENSWEAR, 256772123456 on 2025-02-04 21:36:34, fee: 1,100. "
                   "Reason: LEG-1738704998-X7K2. New balance: 408,926. ID: 13114283719.",
               )),
    ), received=(
        Format("payment received",   # Ghana: a merchant's MoMo
               rf"(?<![A-Za-z])Payment received for\s{MONEY}\sfrom\s{PAYER}(?:,?\s{PAYER_PHONE})?{PAYER_END}"
               rf"(?:{GAP}{MTN_ID})?", (
                   "Payment received for GHS 150.00 from KWAME A. MENSAH Current Balance: GHS 1192.16 . "
                   "Available Balance: GHS 1192.16. Reference: LEG-1738704998-X7K2. Transaction ID: "
                   "90078777180. Fee charged: GHS0.00 Tax charged: 0.",
               )),
        Format("received",           # Uganda and Ghana
               rf"(?<![A-Za-z])You have received\s{MONEY}\sfrom\s{PAYER}(?:,?\s{PAYER_PHONE})?{PAYER_END}"
               rf"{GAP}{MTN_ID}", (
                   "You have received UGX 204,725 from JOHN DOE (256772123456) on 2025-02-04 21:36:34. Reason: "
                   "LEG-1738704998-X7K2. Your new balance: UGX 408,926. Fee was UGX 0. Financial Transaction "
                   "Id: 13114283720.",
                   "You have received GHS 50.00 from AMA SERWAA 233241234567. Your new balance is GHS 100.00. "
                   "Reference: shirt. Transaction ID: 47123456789.",
               )),
    )),
    Provider("Bank transfer", (
        # Nigerian banks' debit alerts, forwarded: `DR Amt:` (First Bank, Zenith), `Amt: … DR` (GTBank),
        # `Debit … Amt:` (Access, UBA). A credit alert is money received, not a customer's payment.
        Format("bank alert", rf"(?<![A-Za-z])DR\sAmt\s?:\s?{BANK_MONEY}{BANK_DESC}", (
            "Acc: 30XXXX1234\nDR Amt: NGN15,000.00\nDesc: NIP TRF TO DEMO SHOP/000013251129193012345678\n"
            "Date: 29-Nov-2026 19:30\nBal: NGN45,210.50",
            "Acct:101**345 DR Amt:7,500.00 Desc:TRF TO DEMO SHOP REF:FBN26112912345 DT:29/11/2026 19:31 "
            "Bal:12,004.10",
        )),
        Format("bank alert", rf"(?<![A-Za-z])Amt\s?:\s?{BANK_MONEY}\s?DR\b{BANK_DESC}", (
            "Acct: 0123****89\nAmt: NGN15,000.00 DR\nDesc: TRANSFER TO DEMO SHOP/REF 000013251129193012345679\n"
            "Avail Bal: NGN45,210.50\nDate: 29-Nov-2026 19:30",
        )),
        Format("bank alert", rf"(?<![A-Za-z])Debit\b.{{0,60}}?(?<![A-Za-z])Amt\s?:\s?{BANK_MONEY}{BANK_DESC}", (
            "Debit\nAmt:NGN15,000.00\nAcc:012****789\nDesc:TRF TO DEMO SHOP LEG-1795969230-ORER "
            "000013251129193012345680\nDate:29/11/2026 19:30\nAvail Bal:NGN45,210.50\nTotal:NGN45,210.50",
            "Txn: Debit\nAcct:20**567\nAmt:NGN 3,200.00\nDesc:MOB TRF TO DEMO SHOP 100004261129193011223344\n"
            "Date:29-NOV-2026 19:32\nBal:NGN 1,050.00",
        )),
    ), received=(
        # Credit alerts, as the shop's bank texts them: `CR Amt:` (First Bank), `Amt: … CR` (GTBank),
        # `Credit … Amt:` (Access, UBA), and "credited with" (Kenyan banks). The balance is never the amount.
        Format("credit alert", rf"(?<![A-Za-z])CR\sAmt\s?:\s?{BANK_MONEY}{BANK_DESC}", (
            "Acct:101**345 CR Amt:7,500.00 Desc:TRF FROM AMINA OTIENO REF:FBN26112954321 DT:29/11/2026 19:31 "
            "Bal:19,504.10",
        )),
        Format("credit alert", rf"(?<![A-Za-z])Amt\s?:\s?{BANK_MONEY}\s?CR\b{BANK_DESC}", (
            "Acct: 0123****89\nAmt: NGN15,000.00 CR\nDesc: TRANSFER FROM JOHN DOE/REF 000013251129193012345699\n"
            "Avail Bal: NGN60,210.50\nDate: 29-Nov-2026 19:30",
        )),
        Format("credit alert", rf"(?<![A-Za-z])Credit\b.{{0,60}}?(?<![A-Za-z])Amt\s?:\s?{BANK_MONEY}{BANK_DESC}", (
            "Credit\nAmt:NGN15,000.00\nAcc:012****789\nDesc:NIP FRM J.K. MWANGI LEG-1795969230-ORER "
            "000013251129193012345681\nDate:29/11/2026 19:30\nAvail Bal:NGN60,210.50",
            "Credit Alert! Amt:NGN5,000.00 Acc:012****789 Desc:TRF FROM AMINA Bal:NGN50,000.00",
        )),
        Format("credit alert", rf"(?<![A-Za-z])credited with\s{MONEY}(?:\sfrom\s{PAYER}(?:,?\s{PAYER_PHONE})?"
                               rf"{PAYER_END})?{GAP}(?<![A-Za-z])Ref(?:erence)?\s?:?\s?"
                               rf"(?P<code>(?=[A-Z0-9]{{0,19}}[0-9])[A-Z0-9]{{6,20}})", (
            "Dear Customer, your account 0123XXXXX789 has been credited with KES 3,000.00 from JOHN DOE "
            "254712345678 on 04/02/2026 21:36. Ref: S12345678X. Available balance KES 10,000.00.",
        )),
    )),
)

# Every format with its provider's name, in table order: what the reader scans for.
FORMATS: tuple[tuple[str, Format], ...] = tuple((p.name, f) for p in PROVIDERS for f in p.formats)
# The same for money in: what bot/money_in.py scans the shop's own texts for.
RECEIVED: tuple[tuple[str, Format], ...] = tuple((p.name, f) for p in PROVIDERS for f in p.received)
