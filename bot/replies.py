"""Every text orderdesk sends, in one place: short, friendly, the reference in every order reply."""
from __future__ import annotations


def storefront_prefill(shop_name: str, reference: str) -> str:
    """The message the storefront's WhatsApp link prefills for the customer."""
    return f"Hello {shop_name}! I have placed order {reference} and would like to pay."
