"""The receipt files the shop keeps: one file per content under MEDIA_DIR, named by its SHA-256,
recorded on the payment proof it came with, and checked against every other order's proofs.

A forwarded old screenshot is the most common fake, so the same file on another order's proof is
flagged `file_reused: same receipt as LEG-…` and the admins are told once. The same file sent
twice for one order is not a reuse. Downloading is not done here (no network in core): the caller
fetches outside any transaction, stores with `store_file`, then records with `keep` or `not_kept`.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from core import alerts
from core.db import insert_unless_taken
from core.models import InboundMessage, Order, PaymentProof, ReceiptFile

EXTENSIONS = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png", "image/gif": ".gif",
              "image/heic": ".heic", "image/heif": ".heif", "image/webp": ".webp", "image/bmp": ".bmp",
              "image/tiff": ".tif", "application/pdf": ".pdf"}
RESUME_WITHIN = timedelta(days=7)


def relative_path(sha256: str, content_type: str) -> str:
    """Where a file lives under MEDIA_DIR: `receipts/<sha256>.jpg`."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return f"receipts/{sha256}{EXTENSIONS.get(media_type, '.bin')}"


def store_file(media_dir: str, content: bytes, content_type: str) -> tuple[str, str]:
    """Write `content` under `media_dir` (blocking: run it in a thread). Returns (sha256, path
    relative to media_dir). The same content is stored once; a half-written file is never seen."""
    sha256 = hashlib.sha256(content).hexdigest()
    relative = relative_path(sha256, content_type)
    target = Path(media_dir) / relative
    if target.is_file() and target.stat().st_size == len(content):
        return sha256, relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256, relative


@dataclass(frozen=True, slots=True)
class Waiting:
    """A receipt to download, with what its log lines name: the order, the inbound message."""

    proof_id: int
    url: str
    content_type: str | None
    reference: str
    message_sid: str | None
    request_id: str | None


async def pending(uow, *, message_id: int | None = None, limit: int = 100) -> list[Waiting]:
    """Receipts not yet kept nor given up on: one message's, or (message_id None) every recent one,
    for a restart to pick up what it was doing."""
    query = (select(PaymentProof.id, PaymentProof.media_url, PaymentProof.content_type, Order.reference,
                    InboundMessage.message_sid, InboundMessage.request_id)
             .join(Order, Order.id == PaymentProof.order_id)
             .outerjoin(InboundMessage, InboundMessage.id == PaymentProof.inbound_message_id)
             .where(PaymentProof.kind == "receipt", PaymentProof.media_url.is_not(None),
                    PaymentProof.receipt_sha256.is_(None), PaymentProof.download_error.is_(None))
             .order_by(PaymentProof.id).limit(limit))
    if message_id is not None:
        query = query.where(PaymentProof.inbound_message_id == message_id)
    else:
        query = query.where(PaymentProof.received_at >= uow.now() - RESUME_WITHIN)
    return [Waiting(*row) for row in (await uow.session.execute(query)).all()]


async def keep(uow, proof_id: int, *, sha256: str, path: str, size: int, content_type: str) -> list[str]:
    """Record the stored file on its proof; returns the references of other orders whose proofs
    carry the same file (flagged on this proof, and the admins told)."""
    # The file's row first: a concurrent `keep` of the same content waits on this unique key until
    # the first commits, and then sees its proof below. A check-then-insert would let both miss.
    await uow.session.execute(
        insert_unless_taken(uow.conn, ReceiptFile.__table__, ("sha256",)),
        {"sha256": sha256, "path": path, "size": size, "first_proof_id": proof_id, "created_at": uow.now(),
         "content_type": content_type[:100] or "application/octet-stream"})
    proof = await uow.session.get(PaymentProof, proof_id, with_for_update=True, populate_existing=True)
    if proof is None or proof.receipt_sha256 is not None:
        return []
    proof.receipt_sha256, proof.receipt_path, proof.download_error = sha256, path, None
    others = sorted(set((await uow.session.scalars(
        select(Order.reference).join(PaymentProof, PaymentProof.order_id == Order.id)
        .where(PaymentProof.receipt_sha256 == sha256, PaymentProof.order_id != proof.order_id))).all()))
    if others:
        proof.flags = [*proof.flags, f"file_reused: same receipt as {', '.join(others)}"]
        order = await uow.session.get(Order, proof.order_id)
        await alerts.tell_admins(uow, "admin_receipt_reused", key=f"proof:{proof.id}:file_reused",
                                 variables={"reference": order.reference, "name": order.customer_name,
                                            "phone": order.customer_phone, "others": ", ".join(others)})
    return others


async def not_kept(uow, proof_id: int, why: str) -> None:
    """The receipt could not be kept: say why on the proof, which keeps its text and media URL."""
    proof = await uow.session.get(PaymentProof, proof_id, with_for_update=True, populate_existing=True)
    if proof is None or proof.receipt_sha256 is not None or proof.download_error is not None:
        return
    proof.download_error = why[:1000]
    proof.flags = [*proof.flags, f"download_failed: receipt not kept ({why[:200]})"]
