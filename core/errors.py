"""Domain errors. Each carries the facts; the HTTP layer and the bot each turn them into words."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


class DomainError(Exception):
    """Base of everything a shop action can refuse."""


@dataclass
class NotFound(DomainError):
    what: str
    key: str

    def __str__(self) -> str:
        return f"No {self.what} {self.key!r}."


@dataclass
class InvalidField(DomainError):
    """A value the domain itself rejects (a phone number, a reference)."""

    field: str
    received: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class InvalidTransition(DomainError):
    reference: str
    current: str
    wanted: str
    allowed: list[str]

    def __str__(self) -> str:
        allowed = ", ".join(self.allowed) or "none: it is final"
        return f"Order {self.reference} is {self.current}; it cannot become {self.wanted}. Allowed next: {allowed}."


@dataclass
class Shortage:
    product_id: str
    name: str
    barcode: str
    wanted: int
    available: int


@dataclass
class InsufficientStock(DomainError):
    reference: str
    shortages: list[Shortage]

    def __str__(self) -> str:
        short = "; ".join(f"{s.name} ({s.barcode}): need {s.wanted}, have {s.available}" for s in self.shortages)
        return f"Not enough stock to confirm {self.reference}: {short}."


@dataclass
class PriceMismatch(DomainError):
    """The client's prices, total or item count disagree with the catalog."""

    reasons: list[str]
    current_prices: dict[str, Decimal]
    total: Decimal
    item_count: int

    def __str__(self) -> str:
        return "Prices have changed: " + "; ".join(self.reasons) + "."


@dataclass
class ReferenceConflict(DomainError):
    reference: str

    def __str__(self) -> str:
        return f"Order reference {self.reference} already exists with different content."


@dataclass
class TooManyPendingOrders(DomainError):
    """MAX_PENDING_ORDERS_PER_PHONE: this number has that many orders waiting for payment already."""

    phone: str
    limit: int
    pending: int

    def __str__(self) -> str:
        orders = "order" if self.pending == 1 else "orders"
        return (f"The number {self.phone} already has {self.pending} unpaid {orders} (the shop allows "
                f"{self.limit}); pay or cancel one first.")


@dataclass
class StockBelowZero(DomainError):
    product_id: str
    barcode: str
    available: int
    delta: int

    def __str__(self) -> str:
        return f"Stock of {self.barcode} is {self.available}; a change of {self.delta:+d} would go below 0."


@dataclass
class StockAboveCap(DomainError):
    product_id: str
    barcode: str
    available: int
    delta: int
    cap: int

    def __str__(self) -> str:
        return (f"Stock of {self.barcode} is {self.available}; a change of {self.delta:+d} would pass "
                f"the cap of {self.cap:,} units.")


@dataclass
class DuplicateBarcode(DomainError):
    barcode: str

    def __str__(self) -> str:
        return f"A product with barcode {self.barcode!r} already exists."


@dataclass
class DuplicateProductId(DomainError):
    product_id: str

    def __str__(self) -> str:
        return f"A product with id {self.product_id!r} already exists; PATCH /api/products/{self.product_id}/ changes it."


@dataclass
class NotAllowed(DomainError):
    """An actor tried something that is not theirs to do (a customer cancelling a paid order...)."""

    reason: str
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.reason


# --- accounts (core/accounts.py) ---------------------------------------------------------------

class SignInRefused(DomainError):
    """A wrong username or password, or a disabled account: one answer for all, as SimpleJWT gives."""

    def __str__(self) -> str:
        return "No active account found with the given credentials."


@dataclass
class SignInLocked(DomainError):
    """Too many wrong passwords for one username: no password is checked for `retry_after` seconds."""

    retry_after: int

    def __str__(self) -> str:
        return f"Too many wrong passwords for this account; try again in {self.retry_after} s."


@dataclass
class TokenRefused(DomainError):
    """An account token that is expired, revoked, malformed or of the wrong kind."""

    reason: str = "The token is invalid or expired."

    def __str__(self) -> str:
        return self.reason


@dataclass
class Forbidden(DomainError):
    """The caller is known but this is not theirs to do."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass
class LinkRefused(DomainError):
    """A `link <code>` that verifies nothing: `why` is `unknown` (no such code, or expired) or `other_phone`."""

    why: str

    def __str__(self) -> str:
        return {"unknown": "That code is unknown or has expired.",
                "other_phone": "That code was made for another phone number."}[self.why]
