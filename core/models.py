"""The tables. Money is stored in minor units (exact on SQLite and PostgreSQL alike)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

CENTS = Decimal("0.01")


class Money(TypeDecorator):
    """A Decimal with two places, stored as an integer of cents."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else int((Decimal(value).quantize(CENTS) * 100))

    def process_result_value(self, value, dialect):
        return _money_from_cents(value)

    def result_processor(self, dialect, coltype):
        return _money_from_cents  # the impl (an integer) has no processor of its own on either database


def _money_from_cents(value: int | None) -> Decimal | None:
    """12345 -> Decimal("123.45"): always two places (scaleb is exact, without a division to round)."""
    return None if value is None else Decimal(value).scaleb(-2)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    # PostgreSQL keeps the zone: these two serve it. SQLite has processors of its own, below.
    def process_bind_param(self, value, dialect):
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        return None if value is None else _as_utc(value)

    # SQLite keeps a datetime as text, in SQLAlchemy's format for its DATETIME: "2026-11-30 07:06:00.000000",
    # which is isoformat(" ", "microseconds"). Written and read here in one step each: a list page reads
    # some sixty of them, and the two layers of processors cost more than the parsing.
    def bind_processor(self, dialect):
        return _utc_to_sqlite_text if dialect.name == "sqlite" else super().bind_processor(dialect)

    def result_processor(self, dialect, coltype):
        return _utc_from_sqlite_text if dialect.name == "sqlite" else super().result_processor(dialect, coltype)


def _utc_to_sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc_from_sqlite_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value + "+00:00")  # kept without a zone, in UTC: parsed aware at once
    except ValueError:  # a text written with an offset of its own
        moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is timezone.utc else _as_utc(moment)


def _as_utc(moment: datetime) -> datetime:
    """A datetime without a zone is taken to be UTC; one with a zone is converted to UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


# None is stored as SQL NULL, not as the JSON text "null" (which each read would have to parse).
# Rows written before hold "null", which reads as None all the same.
NULLABLE_JSON = JSON(none_as_null=True)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )


class Product(Base):
    __tablename__ = "products"

    # Strings, not UUIDs: a catalog moved in from another backend keeps its own ids.
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    price: Mapped[Decimal] = mapped_column(Money)
    discounted_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    stock_quantity: Mapped[int] = mapped_column(Integer, default=0)
    sizes: Mapped[list] = mapped_column(JSON, default=list)
    colors: Mapped[list] = mapped_column(JSON, default=list)
    image_urls: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    # What the Django-era catalog carried besides (CONTRACT §2): kept and served back as they came.
    subcategory: Mapped[str | None] = mapped_column(String(100), nullable=True)
    brand: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rating: Mapped[Decimal | None] = mapped_column(Money, nullable=True)  # 0.00-5.00, two places like money
    review_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    size_quantities: Mapped[dict | None] = mapped_column(NULLABLE_JSON, nullable=True)  # {"M": 4, "L": 0}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0

    @property
    def image_url(self) -> str | None:
        return self.image_urls[0] if self.image_urls else None


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # The list, newest first, walks these without touching the rows: (created_at, id) is its order.
        Index("ix_orders_created_id", "created_at", "id"),
        Index("ix_orders_status_created_id", "status", "created_at", "id"),
        # The reminder and expiry sweeps: pending unpaid orders, oldest first.
        Index("ix_orders_unpaid", "status", "payment_status", "created_at"),
        # Search (core/views.py) reads a table of its own made by migrations' SQL, which the models
        # cannot describe: an FTS5 table on SQLite (0005, 0015), a table with a pg_trgm index on
        # PostgreSQL (0016), each kept in step with the orders by triggers.
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    # The reference with look-alike characters folded (core/references.py `lookup_key`): how a reference
    # typed with `0` for `O` finds its order through an index.
    reference_key: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str] = mapped_column(String(20), index=True)
    customer_address: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))
    payment_status: Mapped[str] = mapped_column(String(20))
    total: Mapped[Decimal] = mapped_column(Money)
    item_count: Mapped[int] = mapped_column(Integer)
    # What the order was created with, to tell a retried create from a different order.
    content_hash: Mapped[str] = mapped_column(String(64))
    # True while the order holds stock taken by its confirm; cleared by the one restock.
    stock_taken: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where to deliver, as the customer shared it on WhatsApp: {latitude, longitude, address, label, at}.
    delivery_location: Mapped[dict | None] = mapped_column(NULLABLE_JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The signed-in buyer who placed it (core/accounts.py); None for a guest. No foreign key: added by
    # a plain ADD COLUMN (migration 0008), and accounts are disabled, never deleted.
    account_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", cascade="all, delete-orphan"
    )
    history: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")
    payment_proofs: Mapped[list[PaymentProof]] = relationship(order_by="PaymentProof.id")


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    product_name: Mapped[str] = mapped_column(String(200))
    product_barcode: Mapped[str] = mapped_column(String(64))
    product_image: Mapped[str | None] = mapped_column(Text, nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    selected_size: Mapped[str | None] = mapped_column(String(50), nullable=True)
    selected_color: Mapped[str | None] = mapped_column(String(50), nullable=True)

    order: Mapped[Order] = relationship(back_populates="items")

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


class OrderEvent(Base):
    """One row per status transition (and other notable order events): who, when, from, to, why."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockMovement(Base):
    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Account(Base):
    """A storefront sign-in (CONTRACT §2 Accounts). `role` is orderdesk's (admin, staff, customer);
    the storefront calls them admin, seller, buyer. `phone` is what the person typed; only
    `verified_phone` (proven by `link <code>` from WhatsApp) opens that number's orders."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    verified_phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The code of a pending `link <code>`, and until when it works.
    link_code: Mapped[str | None] = mapped_column(String(16), nullable=True, unique=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Retired (the lockout moved to `sign_in_failures`, which counts unknown usernames too). Still
    # mapped so servers of the previous release, serving while a release migrates, keep working;
    # a later migration drops them.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AccountSession(Base):
    """One sign-in: its refresh token's id. Every access token names its session, so revoking the
    session (or disabling the account) ends both tokens at once."""

    __tablename__ = "account_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInFailure(Base):
    """Wrong passwords for one username, whether or not an account has it (CONTRACT §2: the lockout
    is per username, so it tells nobody which usernames exist): how many since `first_failed_at`, and
    the end of a lockout. A row whose window and lockout are over is deleted by the next failure."""

    __tablename__ = "sign_in_failures"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppSecret(Base):
    """Secrets the shop did not set: in development, the key that signs account tokens."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Customer(Base):
    """A WhatsApp correspondent, by E.164 phone: their window, their opt-out, the order they talk about."""

    __tablename__ = "customers"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    wa_id: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    profile_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    current_order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set by an admin's `reply`: until then the bot's own prompts stay quiet to this customer.
    quiet_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The click-to-WhatsApp ad that brought them: {headline, body, sourceUrl, sourceType, sourceId, ctwaClid}.
    referral: Mapped[dict | None] = mapped_column(NULLABLE_JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundMessage(Base):
    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Unique: Twilio's retries of one message take effect once, also when they arrive together.
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(40), index=True)
    wa_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    profile_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list] = mapped_column(JSON, default=list)  # [{"url", "contentType"}]
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the webhook's, for the logs
    # What WhatsApp adds to a message beyond its text (webhooks/twilio.py): the message it replies to,
    # the button tapped, a shared location, the ad that brought it.
    details: Mapped[dict | None] = mapped_column(NULLABLE_JSON, nullable=True)


class OutboundMessage(Base):
    """The outbox: written in the transaction that causes it, sent after commit."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_due", "status", "next_attempt_at"),
                      Index("ix_outbound_messages_claimed", "status", "claimed_until"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # One event queues one message: e.g. "order:<id>:status:confirmed:<phone>".
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_phone: Mapped[str] = mapped_column(String(20), index=True)
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    # Outside the 24-hour window the approved template goes instead of `body`.
    content_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_variables: Mapped[str | None] = mapped_column(Text, nullable=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    # The request that caused it (a webhook's, an API call's), so the lines of its sending carry it too.
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the send now under way, or in doubt, began: set at claim, cleared by Twilio's answer.
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryEvent(Base):
    """Every status callback as it came, kept even when its message's send answer is not stored yet."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(40))
    error_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentProof(Base):
    __tablename__ = "payment_proofs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # receipt | text | manual | ledger
    raw_text: Mapped[str] = mapped_column(Text, default="")
    media_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(40), nullable=True)
    transaction_code: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(8), nullable=True)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The shop's copy of the receipt (core/receipts.py): its SHA-256, its path under MEDIA_DIR, or
    # why there is none. All three empty: not downloaded yet (or nothing to download).
    receipt_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    receipt_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    download_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Who verified this payment: `admin` (their `paid`) or `ledger` (the shop's own received text,
    # core/ledger.py); None while it is the customer's word alone.
    verified_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # A claimed code waiting for the shop's ledger: when it is overdue (LEDGER_GRACE after the claim).
    # Cleared once the ledger has settled it either way, so the sweep finds the due ones by index.
    ledger_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class LedgerEntry(Base):
    """Money the shop's own phone says it received (CONTRACT §4 "The shop's own ledger"): one row per
    transaction code (`key` is the code, or a hash of the text for the few texts without one)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_received", "received_at", "id"),
                      Index("ix_ledger_entries_unmatched", "order_id", "received_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    transaction_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    provider: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(8))
    payer_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # E.164 when the text shows the whole number; as printed (`0712***678`) when it masks it.
    payer_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    payer_phone_masked: Mapped[bool] = mapped_column(Boolean, default=False)
    account: Mapped[str | None] = mapped_column(String(120), nullable=True)  # what the payer typed for the shop
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the time the text gives
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the shop's phone got it
    raw_text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # forwarder | whatsapp
    sender: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the SMS sender id, or the admin
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    matched_by: Mapped[str | None] = mapped_column(String(20), nullable=True)  # claim | reference | phone
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiptFile(Base):
    """One receipt file the shop keeps, once per content: its unique SHA-256 is what makes two
    concurrent downloads of the same file queue up, so a reuse is never missed."""

    __tablename__ = "receipt_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    first_proof_id: Mapped[int] = mapped_column(ForeignKey("payment_proofs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a scheduled job per due time: the unique key is how many processes agree on one."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "due_key", name="uq_job_runs_job_due_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(40))
    due_key: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)


class Tally(Base):
    """How many orders (by status), outbound messages (by status) and inbound messages there are, kept by
    the database itself: triggers made by migration 0005 add a +1/-1 row for every insert, delete and
    change of status, so counting is a sum over a few rows instead of a walk over every row, exact in any
    transaction's snapshot. core/tallies.py reads and folds them."""

    __tablename__ = "tallies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(40))  # the table counted
    status: Mapped[str] = mapped_column(String(20))  # "" where the table has no status
    n: Mapped[int] = mapped_column(BigInteger)
