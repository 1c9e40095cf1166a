"""Finding order references in what people send on WhatsApp: every way they write one, inside the
storefront's prefilled order message, and never a SKU, UUID, phone number, price or date."""
import time

import pytest

from bot.references import find_foreign_references, find_references

OURS = ["LEG"]

# The storefront's prefilled order message, as its "Order on WhatsApp" button writes it.
STOREFRONT_ORDER = """🛍️ *NEW ORDER*
━━━━━━━━━━━━━━━━━━━━

*Order Ref:* LEG-MGX2K7Q1-A3F9
📅 *Date:* 04/02/2025, 21:36:38

━━━━━━━━━━━━━━━━━━━━
📦 *ITEMS ORDERED*
━━━━━━━━━━━━━━━━━━━━

*1. Classic Oxford Shirt*
   • SKU: LEG-SHIRT-001
   • Size: M | Color: White
   • Qty: 2 × KES 1,500.00
   • Subtotal: KES 3,000.00
   • Product: 3f9a1c2e-7b4d-4e8a-9c1f-2d3e4f5a6b7c

*2. Slim Chino*
   • SKU: LEG-CHINO-002
   • Size: 32 | Color: Khaki
   • Qty: 1 × KES 2,800.00
   • Subtotal: KES 2,800.00
   • Product: a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d

━━━━━━━━━━━━━━━━━━━━
💰 *Total:* KES 5,800.00
🧾 *Items:* 3
━━━━━━━━━━━━━━━━━━━━

👤 *Customer:* Amina Otieno
📱 *Phone:* +254 712 345 678
📍 *Address:* Moi Ave 12, Nairobi

👉 Process payment"""

# An older template: a boxed header, a decimal stamp, an ISO date and the order link.
STOREFRONT_ORDER_BOXED = """╔══════════════════════╗
║   🛒  LEGACY WEAR     ║
╚══════════════════════╝
Order Ref: #LEG-1738704998-X7K2
Order Date: 2025-02-04T21:36:38.000Z
──────────────────────
│ Hoodie Oversized (LEG-HOODIE-0042)
│ Size XL · Black · x1
│ KES 3,000.00
│ id deadbeef-1a2b-4c3d-8e9f-0a1b2c3d4e5f
│ barcode 6001234567890
──────────────────────
*Total:* KES 3,000.00 (1 item)
Name: Brian Kiptoo
Phone: 0712345678
Track: https://legacywear.co.ke/orders/LEG-1738704998-X7K2
──────────────────────
👉 *Process payment* 💳"""

# One table-style line per item, the till number and a Swahili greeting the customer typed in.
STOREFRONT_ORDER_TABLE = """Habari! 👋
🛍️ *NEW ORDER* — _Legacy Wear_
┌────────────────────────────┐
*Order Ref:* ```LEG-MGX2K7Q1-A3F9```
├────────────────────────────┤
│ LEG-TEE-BLK-M │ Tee, Black, M │ 2 │ KES 800.00 │
│ LEG-CAP-0007  │ Cap, One size  │ 1 │ KES 650.50 │
└────────────────────────────┘
*Total:* KES 2,250.50
Till: 5123456 · Due: 05/02/2025 23:59
📱 +254 (0) 712-345-678
👉 Process payment"""


@pytest.mark.parametrize("text, expected", [
    ("LEG-1738704998-X7K2", "LEG-1738704998-X7K2"),
    ("leg 1738704998 x7k2", "LEG-1738704998-X7K2"),
    ("#LEG-1738704998-X7K2", "LEG-1738704998-X7K2"),
    ("LEG1738704998X7K2", "LEG-1738704998-X7K2"),
    ("LEG-MGX2K7Q1-A3F9", "LEG-MGX2K7Q1-A3F9"),
    ("leg-mgx2k7q1-a3f9", "LEG-MGX2K7Q1-A3F9"),
    ("Leg Mgx2k7q1 A3f9", "LEG-MGX2K7Q1-A3F9"),
    ("LEG_1738704998_X7K2", "LEG-1738704998-X7K2"),
    ("LEG - 1738704998 - X7K2", "LEG-1738704998-X7K2"),
    ("LEG\u00a01738704998\u00a0X7K2", "LEG-1738704998-X7K2"),          # no-break spaces
    ("LEG-123456789-AB12", "LEG-123456789-AB12"),                         # 9-digit stamp
    ("LEG-17387049981-AB12", "LEG-17387049981-AB12"),                     # 11-digit stamp
    ("LEG-MGX2K7Q-AB12", "LEG-MGX2K7Q-AB12"),                             # 7-char base 36
    ("LEG-1MGX2K7Q1-AB12", "LEG-1MGX2K7Q1-AB12"),                         # 9-char base 36
    ("LEG-1738704998-1234", "LEG-1738704998-1234"),                       # all-digit tail
])
def test_every_way_of_writing_a_reference_is_found(text, expected):
    assert find_references(text) == [expected]
    assert find_references(text, OURS) == [expected]


@pytest.mark.parametrize("text, expected", [
    ("Hi, my order is LEG-1738704998-X7K2. When will it ship?", "LEG-1738704998-X7K2"),
    ("*Order Ref:* LEG-MGX2K7Q1-A3F9", "LEG-MGX2K7Q1-A3F9"),
    ("*LEG-MGX2K7Q1-A3F9*", "LEG-MGX2K7Q1-A3F9"),
    ("_LEG-MGX2K7Q1-A3F9_", "LEG-MGX2K7Q1-A3F9"),
    ("~LEG-MGX2K7Q1-A3F9~ sorry, wrong one", "LEG-MGX2K7Q1-A3F9"),
    ("```LEG-1738704998-X7K2```", "LEG-1738704998-X7K2"),
    ("(ref: leg1738704998x7k2)", "LEG-1738704998-X7K2"),
    ("status leg 1738704998 x7k2 please", "LEG-1738704998-X7K2"),
    ("🧾LEG-1738704998-X7K2✅🙏", "LEG-1738704998-X7K2"),
    ("Order #LEG-1738704998-X7K2, paid KES 3,000.00 on 04/02/2025", "LEG-1738704998-X7K2"),
    ("https://legacywear.co.ke/orders/LEG-1738704998-X7K2?utm=wa", "LEG-1738704998-X7K2"),
    ("Nimelipa kwa oda LEG-1738704998-X7K2, asante sana", "LEG-1738704998-X7K2"),
    ("QGH7K2L9PX Confirmed. Ksh3,000.00 sent to LEGACY WEAR for account LEG1738704998X7K2 on "
     "4/2/25 at 9:41 PM New M-PESA balance is Ksh1,234.00.", "LEG-1738704998-X7K2"),
    ("رقم الطلب LEG-1738704998-X7K2 شكرا", "LEG-1738704998-X7K2"),                   # RTL text
    ("\u200fرقم الطلب \u200fLEG\u200f-1738704998-X7K2\u200f", "LEG-1738704998-X7K2"),  # with RLM marks
    ("הזמנה LEG-MGX2K7Q1-A3F9 תודה", "LEG-MGX2K7Q1-A3F9"),
    ("LEG\u200b-MGX2K7Q1-A3F9", "LEG-MGX2K7Q1-A3F9"),                                 # zero-width space
])
def test_a_reference_is_found_inside_longer_text(text, expected):
    assert find_references(text, OURS) == [expected]


@pytest.mark.parametrize("message, expected", [
    (STOREFRONT_ORDER, "LEG-MGX2K7Q1-A3F9"),
    (STOREFRONT_ORDER_BOXED, "LEG-1738704998-X7K2"),
    (STOREFRONT_ORDER_TABLE, "LEG-MGX2K7Q1-A3F9"),
])
def test_the_storefront_order_message_yields_its_reference_and_nothing_else(message, expected):
    assert find_references(message, OURS) == [expected]
    assert find_references(message) == [expected]
    assert find_foreign_references(message, OURS) == []


@pytest.mark.parametrize("text", [
    "LEG-SHIRT-001",
    "LEG-CHINO-002",
    "SKU: LEG-TEE-BLK-M, LEG-HOODIE-XL-0042, LEG-CAP-0007",
    "LEG-DENIM-JKT-0001",
    "3f9a1c2e-7b4d-4e8a-9c1f-2d3e4f5a6b7c",
    "Product abcd1234-e5f6-4a7b-8c9d-0e1f2a3b4c5d",                 # a UUID group looks like a stamp
    "ID LEG abcdef12-3456-4789-abcd-ef0123456789",
    "+254 712 345 678", "0712345678", "254712345678", "+1 (415) 523-8886",
    "Call me on 0712345678 asap",
    "KES 3,000.00", "KSh1,500", "Total: KES 150000 only",
    "2025-02-04", "2025-02-04T21:36:38.000Z", "04/02/2025, 21:36:38",
    "1738704998",
    "LEG-1738704998",                                                # no tail
    "LEG-1738704998-X7K2Z",                                          # tail too long
    "LEG-1738704998-X7K2-XL",                                        # part of a longer code
    "SKU-LEG-1738704998-X7K2",                                       # ditto
    "LEG-0712345678-AB12",                                           # a phone number, not a time
    "LEG-20250204-0001", "INV-20250204-0001",                        # date-based codes
    "LEG-ABCDEFGH-IJKL",                                             # base 36 needs a digit
    "LEG-123456-AB12",                                               # stamp too short
    "LEG-1234567890AB-AB12",                                         # stamp too long
    "LEG6001234567890",                                              # prefix + barcode digits
    "QGH7K2L9PX Confirmed. Ksh1,500.00 sent to LEGACY WEAR",
    "FT25035ABCDE", "MPESA QGH7K2L9PX",
    "Process payment",
    "",
])
def test_codes_that_are_not_references_are_ignored(text):
    assert find_references(text, OURS) == []
    assert find_references(text) == []
    assert find_foreign_references(text, OURS) == []


def test_references_come_in_order_of_appearance_each_once():
    text = "LEG-MGX2K7Q1-A3F9 and leg 1738704998 x7k2, again LEG-MGX2K7Q1-A3F9 and #leg1738704998x7k2"
    assert find_references(text, OURS) == ["LEG-MGX2K7Q1-A3F9", "LEG-1738704998-X7K2"]


def test_only_the_given_prefixes_count():
    text = "XYZ-1738704998-X7K2 or LEG-1738704998-X7K2 or SHOP-MGX2K7Q1-A3F9"
    assert find_references(text, ["LEG"]) == ["LEG-1738704998-X7K2"]
    assert find_references(text, ["leg", "shop"]) == ["LEG-1738704998-X7K2", "SHOP-MGX2K7Q1-A3F9"]
    assert find_references(text) == ["XYZ-1738704998-X7K2", "LEG-1738704998-X7K2", "SHOP-MGX2K7Q1-A3F9"]


def test_a_single_prefix_string_is_one_prefix_not_its_letters():
    assert find_references("LEG-1738704998-X7K2", "LEG") == ["LEG-1738704998-X7K2"]
    assert find_references("L-1738704998-X7K2", "LEG") == []


def test_a_known_prefix_splits_a_reference_written_without_separators():
    # LEGMGX2… could be LEGM-GX2… or LE-GMGX2…; knowing the prefix settles it.
    assert find_references("LEGMGX2K7Q1A3F9", ["LEG"]) == ["LEG-MGX2K7Q1-A3F9"]
    assert find_references("order legmgx2k7q1a3f9", ["LEG"]) == ["LEG-MGX2K7Q1-A3F9"]
    assert find_references("LEGMGX2K7Q1A3F9") == []


def test_the_shops_prefix_keeps_ordinary_words_out():
    # Without prefixes any word can be one, so the bot passes the shop's.
    text = "I sent it from account 1234567890 from Equity"
    assert find_references(text, OURS) == []
    assert find_foreign_references(text, OURS) == []
    assert find_references(text) == ["ACCOUNT-1234567890-FROM"]


@pytest.mark.parametrize("text, expected", [
    ("XYZ-1738704998-X7K2", ["XYZ-1738704998-X7K2"]),
    ("my order is #abc-mgx2k7q1-a3f9", ["ABC-MGX2K7Q1-A3F9"]),
    ("LEGO-1738704998-X7K2", ["LEGO-1738704998-X7K2"]),
    ("XYZ1738704998X7K2", ["XYZ-1738704998-X7K2"]),
    ("XYZ-1738704998-X7K2 LEG-1738704998-X7K2", ["XYZ-1738704998-X7K2"]),
    ("LEG-1738704998-X7K2", []),
    ("xyz 1738704998 x7k2", []),          # spaced words are too weak a sign of a foreign prefix
    ("XYZMGX2K7Q1A3F9", []),              # where would the prefix end?
])
def test_a_reference_with_another_prefix_is_told_apart(text, expected):
    assert find_foreign_references(text, OURS) == expected
    assert not set(expected) & set(find_references(text, OURS))


ADVERSARIAL_BODIES = [
    "LEG-" * 2500,
    "leg " * 2500,
    "LEG" + " " * 9997,
    "LEG1" * 2500,
    "LEG-1738704998-" * 666,
    "LEG 1738704998 " * 666,
    "a" * 10_000,
    "1" * 10_000,
    "A1" * 5000,
    "-_ " * 3333,
    "━" * 10_000,
    "🛍️" * 5000,
    "رقم الطلب " * 1000,
    "LEG-SHIRT-001 " * 715,
    "3f9a1c2e-7b4d-4e8a-9c1f-2d3e4f5a6b7c " * 270,
    (STOREFRONT_ORDER + "\n") * 12,
]


@pytest.mark.parametrize("body", ADVERSARIAL_BODIES, ids=lambda body: repr(body[:12]))
def test_long_messages_are_scanned_quickly(body):
    started = time.perf_counter()
    find_references(body)
    find_references(body, OURS)
    find_foreign_references(body, OURS)
    assert time.perf_counter() - started < 1.0


def test_a_long_message_still_yields_its_references():
    body = "blah " * 2000 + "LEG-1738704998-X7K2" + " ━" * 2000 + " leg mgx2k7q1 a3f9"
    assert find_references(body, OURS) == ["LEG-1738704998-X7K2", "LEG-MGX2K7Q1-A3F9"]


def test_a_storefront_stamp_without_digits_is_found_after_the_shops_prefix():
    # Date.now().toString(36) has no digit about one time in seven, e.g. MIDCKZQA (late 2025).
    assert find_references("my order is LEG-MIDCKZQA-A3F9", ["LEG"]) == ["LEG-MIDCKZQA-A3F9"]


def test_a_letters_only_sku_after_the_shops_prefix_is_not_a_reference():
    assert find_references("LEG-SWEATERS-BLUE and LEG-SHIRTS-NAVY", ["LEG"]) == []
