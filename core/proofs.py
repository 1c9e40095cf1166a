"""Payment proofs: what a customer (or an admin) showed as payment for an order."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.db import lock_names
from core.errors import NotAllowed
from core.models import Order, PaymentProof
from core.status import PaymentStatus, Status

# At most this many payment proofs are kept for one order. A customer sends one or two per payment
# (a receipt, the forwarded text) and pays an order in a few parts; past this the proofs are a flood
# (one message once wrote 1,109). The conversation records no more on a full order: the customer is
# told the shop already has their reports, the admins are told once for the order. The admins' own
# `paid` is not limited: it is one proof per command, from someone the shop trusts.
MAX_PROOFS_PER_ORDER = 20


async def record_proof(uow, order: Order, *, kind: str, actor: str, raw_text: str = "",
                       media_url: str | None = None, content_type: str | None = None,
                       inbound_message_id: int | None = None, provider: str | None = None,
                       transaction_code: str | None = None, amount: Decimal | None = None,
                       currency: str | None = None, flags: list[str] | None = None,
                       verified: bool = False, verified_by: str = "admin") -> PaymentProof:
    """One proof on `order`, and its payment status moved on: `reported` by a customer's proof (kept
    even on a cancelled order, for the shop to settle), `verified` by the shop's own (`verified`; by
    whom: `verified_by`, an admin's `paid` or the shop's ledger).
    Decided under the order's row lock, taken here (the caller locks it first when it decides
    anything on the order itself), so a confirm or cancel meanwhile is never overwritten.

    Raises NotAllowed (`details`: reference, status) for a verified payment on a cancelled order."""
    await uow.session.refresh(order, ["status", "payment_status"], with_for_update=True)
    if verified and order.status == Status.CANCELLED:
        raise NotAllowed(f"Order {order.reference} is cancelled; a payment can't be recorded on it.",
                         {"reference": order.reference, "status": order.status})
    proof = PaymentProof(order_id=order.id, inbound_message_id=inbound_message_id, kind=kind, raw_text=raw_text,
                         media_url=media_url, content_type=content_type, provider=provider,
                         transaction_code=transaction_code, amount=amount, currency=currency,
                         flags=flags or [], actor=actor, received_at=uow.now(),
                         verified_by=verified_by if verified else None)
    uow.session.add(proof)
    if verified:
        order.payment_status = PaymentStatus.VERIFIED.value
    elif order.payment_status == PaymentStatus.UNPAID.value:
        order.payment_status = PaymentStatus.REPORTED.value
    order.updated_at = uow.now()
    await uow.session.flush()
    return proof


async def count_proofs(uow, order_id: str) -> int:
    return await uow.session.scalar(select(func.count()).select_from(PaymentProof)
                                    .where(PaymentProof.order_id == order_id))


async def hold_codes(uow, codes) -> None:
    """Lock these transaction codes until the commit, all at once in a fixed order (no deadlock): two
    reports of one code, in two transactions, take turns, and the second sees the first's proof."""
    await lock_names(uow.conn, [f"payment-code:{code.upper()}" for code in codes])


async def orders_with_code(uow, code: str) -> dict[str, str]:
    """order id -> reference of every order that already has a proof with this transaction code, read
    under the code's lock (taken here unless `hold_codes` took it), which holds until the commit, so
    the proof recorded after this answer is seen by every other report of the code."""
    await hold_codes(uow, [code])
    rows = await uow.session.execute(
        select(Order.id, Order.reference).join(PaymentProof, PaymentProof.order_id == Order.id)
        .where(func.upper(PaymentProof.transaction_code) == code.upper())
    )
    return dict(rows.all())
