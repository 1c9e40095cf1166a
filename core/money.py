"""Money compared as the shop compares it: an amount read or received against an order's total.
One rule for the bot (a customer's forwarded text) and the ledger (the shop's own received text)."""
from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def check_amount(amount: Decimal | None, currency: str, order_total: Decimal | int | str,
                 shop_currency: str) -> tuple[str | None, str]:
    """Compare a read amount with the order total: `(flag, words)`, flag None when it equals.

    Flags: "amount_short", "amount_over", "other_currency" (never converted), "amount_unread".
    Words are for the admin: "= order total", "short by 1,500.00", "over by 500.00".
    """
    if amount is None:
        return "amount_unread", "no amount could be read"
    if currency.upper() != shop_currency.upper():
        return ("other_currency",
                f"paid in {currency.upper()}, the order is in {shop_currency.upper()}: not converted")
    difference = Decimal(amount).quantize(CENT) - Decimal(str(order_total)).quantize(CENT)
    if difference == 0:
        return None, "= order total"
    if difference < 0:
        return "amount_short", f"short by {format_money(-difference)}"
    return "amount_over", f"over by {format_money(difference)}"


def format_money(amount: Decimal) -> str:
    """`1500` -> `1,500.00`."""
    return f"{Decimal(amount):,.2f}"
