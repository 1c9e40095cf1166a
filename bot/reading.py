"""A customer's message read once into one value (STYLE.md): the order references in it, whether it
is the storefront's prefilled order message, whether the customer says they paid, and the payments
it holds. Each reader scans the text once; the conversation then acts on the `Reading`."""
from __future__ import annotations

from dataclasses import dataclass

from bot.payment_texts import PaymentRead, read_payment_text
from bot.payments import is_payment_text, is_prefilled_order_message
from bot.references import find_references


@dataclass(frozen=True)
class Reading:
    references: list[str]          # the shop's references in the text, in order (Paybill accounts after)
    prefilled: bool                # the storefront's order message: it links an order, it is never a payment
    says_paid: bool                # "I have paid", "nimelipa", …
    payments: list[PaymentRead]    # confirmations and claims read from the text

    @property
    def confirmations(self) -> list[PaymentRead]:
        """The providers' texts (not the customer's own words): a payment report by themselves."""
        return [p for p in self.payments if p.kind != "claim"]


def read_message(text: str, prefix: str, currency: str) -> Reading:
    references = find_references(text, [prefix])
    prefilled = is_prefilled_order_message(text, references=references)
    says_paid = is_payment_text(text, prefilled=prefilled)
    payments = [] if prefilled else read_payment_text(text, currency, prefilled=False, says_paid=says_paid)
    # A Paybill "for account <ref>" or a bank transfer's description names its order.
    for payment in payments:
        references += [r for r in find_references(payment.account or "", [prefix]) if r not in references]
    return Reading(references, prefilled, says_paid, payments)
