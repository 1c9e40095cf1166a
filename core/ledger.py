"""The shop's own ledger (CONTRACT §4): the money the shop's phone says it received, and the checking of
customers' payment claims against it.

A customer's forwarded confirmation is a claim: texts can be edited and old ones resent. The "you
have received" text on the shop's own phone is the truth. An entry arrives from the SMS forwarder
(POST /webhooks/ledger) or an admin's WhatsApp forward (`keep`); a claim arrives in a customer's
payment report (`check_claims`, called by the conversation once it has recorded the proofs); a claim
whose code has not reached the ledger LEDGER_GRACE later is flagged once (`flag_overdue`, a job).

Race-free: everything about one transaction code is decided under that code's lock (core/proofs.py
`hold_codes`), which every path takes before any order's row lock. So a claim and its entry arriving
at the same moment, on two processes, take turns, and whichever comes second sees the first: the
payment is verified once. An entry verifies one order at most; a code claimed with another amount
is flagged, never verified. Confirming stays the admins' decision unless AUTO_CONFIRM_ON_LEDGER.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import case, func, select

from core import alerts, orders, outbox, proofs
from core.clock import day_start
from core.db import lock_name
from core.errors import InsufficientStock, NotFound
from core.models import LedgerEntry, Order, PaymentProof
from core.money import check_amount, format_money
from core.phones import try_e164
from core.status import PaymentStatus, Status

LEDGER = "ledger"   # the actor of what the ledger does, and the `verifiedBy` of what it verified
CLAIMS = ("text", "receipt")   # the customers' proofs; `manual` is an admin's, `ledger` the ledger's own
NOT_IN_LEDGER = "not_in_ledger"
AMOUNT_DIFFERS = "ledger_amount_differs"
OTHER_ORDER = "ledger_other_order"
MAX_TEXT_CHARS = 5_000
OVERDUE_BATCH, OVERDUE_PER_TRANSACTION = 200, 10


@dataclass(frozen=True)
class NewEntry:
    """A money-in text as read (bot/money_in.py), with where and when the shop got it."""
    provider: str
    kind: str
    transaction_code: str | None
    amount: Decimal
    currency: str
    payer_name: str | None
    payer_phone: str | None
    payer_phone_masked: bool
    account: str | None
    paid_at: datetime | None      # aware; the time the text gives
    received_at: datetime         # aware; when the shop's phone got it
    raw_text: str
    source: str                   # forwarder | whatsapp
    sender: str | None
    references: list[str] = field(default_factory=list)   # order references its account names


@dataclass
class Kept:
    """What keeping an entry did: whether it was new, and the order it paid (with how), if any."""
    entry: LedgerEntry
    new: bool
    order: Order | None = None
    how: str | None = None        # claim | reference | phone
    confirmed: bool = False


# --- in: an entry ---------------------------------------------------------------------------------

async def keep(uow, new: NewEntry) -> Kept:
    """Keep `new` in the ledger (once per code: the same text again is the entry already kept) and
    match it: to the claim of its code with the same amount, else to the order its account names,
    else to the one pending order of its amount from the payer's whole number."""
    key = entry_key(new.transaction_code, new.raw_text, new.amount, new.payer_name)
    if new.transaction_code:
        await proofs.hold_codes(uow, [new.transaction_code])
    else:
        await lock_name(uow.conn, f"ledger:{key}")
    entry = await uow.session.scalar(select(LedgerEntry).where(LedgerEntry.key == key))
    created = entry is None
    if created:
        entry = LedgerEntry(
            key=key, transaction_code=new.transaction_code, provider=new.provider[:40], kind=new.kind[:40],
            amount=new.amount, currency=new.currency, payer_name=(new.payer_name or None) and new.payer_name[:200],
            payer_phone=new.payer_phone and new.payer_phone[:40], payer_phone_masked=new.payer_phone_masked,
            account=new.account and new.account[:120], paid_at=new.paid_at and new.paid_at.astimezone(timezone.utc),
            received_at=new.received_at.astimezone(timezone.utc),
            raw_text=new.raw_text[:MAX_TEXT_CHARS], source=new.source, sender=new.sender and new.sender[:100],
            created_at=uow.now())
        uow.session.add(entry)
        await uow.session.flush()
    if entry.order_id is not None:
        return Kept(entry, created, await uow.session.get(Order, entry.order_id), entry.matched_by)
    return await _settle(uow, entry, new.references, created)


def entry_key(code: str | None, text: str, amount: Decimal, payer: str | None) -> str:
    """What makes two texts one entry: the code; for the rare text without one, its words (and which of
    its payments, should it hold several)."""
    if code:
        return code.upper()[:80]
    words = " ".join([*text.split(), "|", f"{amount:.2f}", payer or ""])
    return "text:" + hashlib.sha256(words.encode()).hexdigest()


async def _settle(uow, entry: LedgerEntry, references: list[str], created: bool) -> Kept:
    shop = uow.settings.currency
    claims = await _open_claims(uow, entry.transaction_code) if entry.transaction_code else []
    agreeing = [claim for claim in claims if _agrees(claim, entry, shop)]
    target_id = await _order_named(uow, references)
    phone_ids = [] if target_id or agreeing else await _pending_of_payer(uow, entry)
    locked = await _lock_orders(uow, {c.order_id for c in claims} | {target_id} | set(phone_ids[:1]))

    matched, how, used = None, None, None
    target = locked.get(target_id)
    if target is not None and target.status == Status.CANCELLED:
        await _tell(uow, "admin_ledger_cancelled", entry, target)
        target = None
    if target is not None:
        used = next((c for c in agreeing if c.order_id == target.id), None)
        if used is not None:
            _verify(uow, used, entry, target)
        else:
            used = await _ledger_proof(uow, target, entry)
        matched, how = target, "reference"
    else:
        used = next((c for c in agreeing if locked[c.order_id].status != Status.CANCELLED), None)
        if used is not None:
            matched, how = locked[used.order_id], "claim"
            _verify(uow, used, entry, matched)
        elif len(phone_ids) == 1 and _payable(locked[phone_ids[0]], entry, shop):
            matched, how = locked[phone_ids[0]], "phone"
            used = await _ledger_proof(uow, matched, entry)
    if matched is not None:
        entry.order_id, entry.matched_by, entry.matched_at = matched.id, how, uow.now()
    for claim in claims:   # the code's other claims: another amount, or another order than the one it paid
        if claim is not used:
            await _judge(uow, claim, entry, locked[claim.order_id], tell=True)
    kept = Kept(entry, created, matched, how)
    if matched is not None:
        await uow.session.flush()
        if how == "claim":
            await _tell(uow, "admin_ledger_verified", entry, matched, claim=used)
        else:   # nobody said anything: the customer hears the shop has their money
            await outbox.enqueue(uow, to=matched.customer_phone, kind="payment_received", order_id=matched.id,
                                 key=f"ledger:{entry.id}:received", variables={
                                     "name": matched.customer_name, "reference": matched.reference,
                                     "amount": money(entry.amount, entry.currency)})
            await _tell(uow, "admin_ledger_paid", entry, matched,
                        how="by the account reference" if how == "reference" else "by the payer's number")
        kept.confirmed = await _auto_confirm(uow, matched, cause=f"ledger:{entry.id}")
    return kept


# --- in: a claim ------------------------------------------------------------------------------------

async def check_claims(uow, order: Order, recorded: list[PaymentProof]) -> bool:
    """The customer's proofs of `order` just recorded, checked against the ledger; the caller holds
    their codes (proofs.hold_codes) and the order's lock, in that order. A code not in the ledger yet
    waits LEDGER_GRACE for it, when the shop keeps one (LEDGER_TOKEN set). Returns whether the order
    confirmed itself (AUTO_CONFIRM_ON_LEDGER)."""
    verified = False
    grace = uow.settings.ledger_grace if uow.settings.ledger_token else None
    for proof in recorded:
        if not proof.transaction_code or proof.kind not in CLAIMS:
            continue
        entry = await _entry_of(uow, proof.transaction_code)
        if entry is None:
            if grace is not None:
                proof.ledger_due_at = proof.received_at + grace
            continue
        # Nothing told here: the payment report the conversation sends next shows the verdict.
        verified |= await _judge(uow, proof, entry, order, tell=False)
    if not verified:
        return False
    await uow.session.flush()
    return await _auto_confirm(uow, order, cause=f"order:{order.id}:claim:{recorded[-1].id}")


async def _judge(uow, claim: PaymentProof, entry: LedgerEntry, order: Order, *, tell: bool) -> bool:
    """One claim against the entry of its code: verified when the amounts agree and the entry paid no
    other order (matching it to this one when it paid none yet); otherwise flagged, once."""
    if not _agrees(claim, entry, uow.settings.currency):
        claimed = money(claim.amount, claim.currency or uow.settings.currency)
        if _flag(claim, AMOUNT_DIFFERS, f"your ledger has {money(entry.amount, entry.currency)} for "
                                        f"{entry.transaction_code}, not {claimed}") and tell:
            await _tell(uow, "admin_ledger_mismatch", entry, order, claim=claim, claimed=claimed)
        return False
    if entry.order_id not in (None, order.id):
        other = await uow.session.scalar(select(Order.reference).where(Order.id == entry.order_id))
        if _flag(claim, OTHER_ORDER, f"in your ledger {entry.transaction_code} paid {other}") and tell:
            await _tell(uow, "admin_ledger_elsewhere", entry, order, claim=claim, other=other)
        return False
    if order.status == Status.CANCELLED:
        claim.ledger_due_at = None   # money for a cancelled order: the admins settle it
        return False
    _verify(uow, claim, entry, order)
    if entry.order_id is None:
        entry.order_id, entry.matched_by, entry.matched_at = order.id, "claim", uow.now()
    return True


# --- the grace: a claimed code that never reaches the ledger -----------------------------------------

async def flag_overdue(uow) -> str:
    """The scheduled sweep: each claim whose code is still not in the ledger LEDGER_GRACE after it was
    made is flagged to the admins, once. One whose entry came meanwhile is judged instead."""
    now = uow.now()
    async with uow(readonly=True) as tx:
        due = (await tx.execute(select(PaymentProof.id, PaymentProof.transaction_code)
                                .where(PaymentProof.ledger_due_at <= now)
                                .order_by(PaymentProof.ledger_due_at).limit(OVERDUE_BATCH))).all()
    flagged = 0
    for start in range(0, len(due), OVERDUE_PER_TRANSACTION):
        batch = due[start:start + OVERDUE_PER_TRANSACTION]
        async with uow() as tx:
            await proofs.hold_codes(tx, [code for _, code in batch])   # before any order's lock
            claims = (await tx.session.scalars(
                select(PaymentProof).where(PaymentProof.id.in_([key for key, _ in batch]),
                                           PaymentProof.ledger_due_at <= now)
                .order_by(PaymentProof.id).execution_options(populate_existing=True))).all()
            for claim in claims:
                order = await orders.get_order(tx, claim.order_id, for_update=True)
                entry = await _entry_of(tx, claim.transaction_code)
                if entry is not None:
                    claim.ledger_due_at = None
                    if await _judge(tx, claim, entry, order, tell=True):
                        await tx.session.flush()
                        await _auto_confirm(tx, order, cause=f"proof:{claim.id}")
                    continue
                claim.ledger_due_at = None
                minutes = max(int((now - claim.received_at).total_seconds() // 60), 1)
                _flag(claim, NOT_IN_LEDGER, f"{claim.transaction_code} was not in your ledger {minutes} min "
                                            f"after the customer reported it")
                await tx.session.flush()
                await _tell(tx, "admin_ledger_missing", None, order, claim=claim, minutes=minutes,
                            claimed=money(claim.amount, claim.currency or tx.settings.currency))
                flagged += 1
            await tx.commit()
    return f"{flagged} claim(s) not in the ledger flagged"


# --- reading the ledger -------------------------------------------------------------------------------

async def unmatched_today(uow) -> list[LedgerEntry]:
    """The money received today (the shop's day) that paid no order, newest first."""
    start = day_start(uow.now(), uow.settings.shop_timezone)
    return list((await uow.session.scalars(
        select(LedgerEntry).where(LedgerEntry.order_id.is_(None), LedgerEntry.received_at >= start,
                                  LedgerEntry.received_at < start + timedelta(days=1))
        .order_by(LedgerEntry.received_at.desc(), LedgerEntry.id.desc()))).all())


async def unmatched_count(uow, start: datetime) -> tuple[int, Decimal]:
    """(how many entries received in the day from `start` paid no order, the sum of those in the shop's
    currency)."""
    in_shop_currency = case((LedgerEntry.currency == uow.settings.currency, LedgerEntry.amount), else_=0)
    count, total = (await uow.execute(
        select(func.count(), func.coalesce(func.sum(in_shop_currency), 0))
        .where(LedgerEntry.order_id.is_(None), LedgerEntry.received_at >= start,
               LedgerEntry.received_at < start + timedelta(days=1)))).one()
    return count, Decimal(total)


def describe(entry: LedgerEntry) -> str:
    """`M-PESA QJK3ABCD12, KES 3,000.00 from JOHN DOE 0712***678`: an entry in one line."""
    what = " ".join(part for part in (entry.provider, entry.transaction_code) if part)
    payer = " ".join(part for part in (entry.payer_name, entry.payer_phone) if part)
    return f"{what}, {money(entry.amount, entry.currency)}" + (f" from {payer}" if payer else "")


def money(amount: Decimal | None, currency: str) -> str:
    return f"{currency} {format_money(amount)}" if amount is not None else "no amount"


# --- the parts -------------------------------------------------------------------------------------------

async def _entry_of(uow, code: str) -> LedgerEntry | None:
    return await uow.session.scalar(select(LedgerEntry).where(LedgerEntry.key == code.upper()[:80])
                                    .execution_options(populate_existing=True))


async def _open_claims(uow, code: str) -> list[PaymentProof]:
    """The customers' proofs of `code` that nothing has verified yet, oldest first (read under its lock)."""
    return list((await uow.session.scalars(
        # Codes are kept upper case (the reader and `paid` write them so): the index answers.
        select(PaymentProof).where(PaymentProof.transaction_code == code.upper(),
                                   PaymentProof.verified_by.is_(None), PaymentProof.kind.in_(CLAIMS))
        .order_by(PaymentProof.id).execution_options(populate_existing=True))).all())


async def _order_named(uow, references: list[str]) -> str | None:
    """The id of the first order the entry's account names that exists."""
    for reference in references:
        try:
            return (await orders.get_order(uow, reference)).id
        except NotFound:
            continue
    return None


async def _pending_of_payer(uow, entry: LedgerEntry) -> list[str]:
    """The pending, not yet verified orders of exactly the entry's amount from the payer's whole number
    (at most two: one is a match, two are a guess). A masked number never matches."""
    phone = entry.payer_phone
    if not phone or entry.payer_phone_masked or entry.currency != uow.settings.currency:
        return []
    if try_e164(phone, uow.settings.default_region) != phone:
        return []
    return list((await uow.session.scalars(
        select(Order.id).where(Order.customer_phone == phone, Order.status == Status.PENDING.value,
                               Order.payment_status != PaymentStatus.VERIFIED.value, Order.total == entry.amount)
        .limit(2))).all())


async def _lock_orders(uow, ids) -> dict[str, Order]:
    """These orders, whole, their rows locked in id order (two entries never wait on each other in a cycle)."""
    ids = sorted(i for i in ids if i)
    if not ids:
        return {}
    await uow.flush()
    found = (await uow.session.scalars(
        select(Order).where(Order.id.in_(ids)).order_by(Order.id).options(*orders.load_options())
        .with_for_update(of=Order).execution_options(populate_existing=True))).all()
    return {order.id: order for order in found}


def _payable(order: Order, entry: LedgerEntry, shop_currency: str) -> bool:
    """Still what the payer's number matched when it was looked up: pending, unverified, the same total."""
    return (order.status == Status.PENDING and order.payment_status != PaymentStatus.VERIFIED
            and entry.currency == shop_currency and order.total == entry.amount)


def _agrees(claim: PaymentProof, entry: LedgerEntry, shop_currency: str) -> bool:
    """A claim agrees with the ledger unless it names another amount (or currency) for the code."""
    return claim.amount is None or (claim.amount == entry.amount
                                    and (claim.currency or shop_currency) == entry.currency)


def _verify(uow, claim: PaymentProof, entry: LedgerEntry, order: Order) -> None:
    claim.verified_by, claim.ledger_due_at = LEDGER, None
    flags = [f for f in claim.flags or [] if not f.startswith(NOT_IN_LEDGER)]
    if claim.amount is None:   # "I have paid, code QJK…": the ledger says how much
        claim.amount, claim.currency = entry.amount, entry.currency
        flag, words = check_amount(entry.amount, entry.currency, order.total, uow.settings.currency)
        if flag:
            flags.append(f"{flag}: {words}")
    claim.flags = flags
    order.payment_status, order.updated_at = PaymentStatus.VERIFIED.value, uow.now()


async def _ledger_proof(uow, order: Order, entry: LedgerEntry) -> PaymentProof:
    """The payment on the order, as the ledger has it, when the customer sent nothing for it."""
    flag, words = check_amount(entry.amount, entry.currency, order.total, uow.settings.currency)
    return await proofs.record_proof(uow, order, kind="ledger", actor=LEDGER, raw_text=entry.raw_text[:2000],
                                     provider=entry.provider, transaction_code=entry.transaction_code,
                                     amount=entry.amount, currency=entry.currency,
                                     flags=[f"{flag}: {words}"] if flag else [], verified=True, verified_by=LEDGER)


def _flag(claim: PaymentProof, kind: str, words: str) -> bool:
    """Flag the claim (once: False when it already was); it no longer waits for the ledger."""
    claim.ledger_due_at = None
    if any(f.startswith(kind) for f in claim.flags or []):
        return False
    claim.flags = [*(claim.flags or []), f"{kind}: {words}"]
    return True


async def _auto_confirm(uow, order: Order, *, cause: str) -> bool:
    """AUTO_CONFIRM_ON_LEDGER: confirm a pending order the ledger's entries fully pay, once (the
    confirm's own status check, under the order's lock). With stock short it stays pending and
    verified, and the admins get the shortages."""
    settings = uow.settings
    if not settings.auto_confirm_on_ledger or order.status != Status.PENDING:
        return False
    await uow.flush()
    paid = await uow.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.order_id == order.id, LedgerEntry.currency == settings.currency))
    if Decimal(paid) < order.total:
        return False
    facts = alerts.order_facts(uow, order)
    try:
        async with uow.savepoint():
            outcome = await orders.confirm_order(uow, order.id, LEDGER)
    except InsufficientStock as short:
        shortages = "; ".join(f"{s.name} ({s.barcode}) need {s.wanted}, have {s.available}" for s in short.shortages)
        await alerts.tell_admins(uow, "admin_ledger_short", key=f"{cause}:short",
                                 variables={**facts, "shortages": shortages})
        return False
    if not outcome.changed:
        return False
    stock = ", ".join(f"{p.name} {p.stock_quantity}" for p in outcome.touched_products)
    await alerts.tell_admins(uow, "admin_ledger_confirmed", key=f"order:{order.id}:ledger-confirmed",
                             variables={**facts, "stock": stock})
    return True


async def _tell(uow, kind: str, entry: LedgerEntry | None, order: Order, *, claim: PaymentProof | None = None,
                **extra) -> None:
    """An alert to the admins about `order` and the ledger, once per entry (or claim) and kind."""
    about = f"proof:{claim.id}" if claim is not None else f"ledger:{entry.id}"
    variables = {**alerts.order_facts(uow, order), **extra,
                 "code": (claim.transaction_code if claim is not None else None) or
                         (entry.transaction_code if entry is not None else "") or "",
                 "entry": describe(entry) if entry is not None else "",
                 "next": "" if uow.settings.auto_confirm_on_ledger else f"\nReply: confirm {order.reference}"}
    await alerts.tell_admins(uow, kind, key=f"{about}:{kind}", variables=variables)
