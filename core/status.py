"""Order and payment statuses, and the one table of allowed transitions."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    REPORTED = "reported"
    VERIFIED = "verified"


ALLOWED: dict[Status, tuple[Status, ...]] = {
    Status.PENDING: (Status.CONFIRMED, Status.CANCELLED),
    Status.CONFIRMED: (Status.PROCESSING, Status.SHIPPED, Status.CANCELLED),
    Status.PROCESSING: (Status.SHIPPED, Status.CANCELLED),
    Status.SHIPPED: (Status.DELIVERED,),
    Status.DELIVERED: (),
    Status.CANCELLED: (),
}

# What a customer may cancel themselves (CONTRACT §4); past it, only the shop may.
CUSTOMER_MAY_CANCEL = frozenset({Status.PENDING})


def parse_status(value: object) -> Status:
    """Any letter case of a status name; anything else raises ValueError naming the allowed values."""
    if isinstance(value, str):
        try:
            return Status(value.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(s.value for s in Status)
    raise ValueError(f"received {value!r}; allowed values: {allowed}")
