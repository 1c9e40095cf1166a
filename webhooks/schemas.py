"""The API's request and response models. They validate requests and generate the OpenAPI document."""
from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from core.status import PaymentStatus, Status, parse_status
from core.stock import MAX_STOCK


def _status(value: Any) -> Status:
    try:
        return parse_status(value)
    except ValueError as exc:
        raise PydanticCustomError("status", str(exc)) from None


def _id_text(value: Any) -> Any:
    """The old backend's product ids may be integers; ours are strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _cents(value: Any) -> Any:
    """Money sent as a JSON number, as a JavaScript cart sums it (`119.93999999999998`), rounded to
    the cent before it is checked (CONTRACT §2); a decimal string stays exact, so `"1500.005"` is
    still an error."""
    if isinstance(value, float) and math.isfinite(value):
        try:
            return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        except InvalidOperation:   # too many digits to round: left to the checks below to refuse
            return value
    return value


_DIGITS = re.compile(r"[0-9]{1,9}")


def _count_text(value: Any) -> Any:
    """`"3"` for 3, as the Django-era API took counts; anything else goes on to the strict check."""
    return int(value) if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) else value


# A status in any letter case; its schema is still the enum, so generated clients get a union type.
StatusIn = Annotated[Status, BeforeValidator(_status)]
ProductId = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=64)]
# Documented as what it accepts (pydantic's own schema says "any string"), so clients and fuzzers send money.
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2), WithJsonSchema({"anyOf": [
    {"type": "number", "minimum": 0, "maximum": 9999999999.99, "multipleOf": 0.01},
    {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$", "examples": ["1500.00"]}]}, mode="validation"),
    BeforeValidator(_cents)]
MoneyOut = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json")]
Text = Annotated[str, Field(max_length=2000)]
# Counts are JSON integers: `true` or `2.5` is a mistake to report, not to round.
Count = Annotated[int, Strict()]
# An order's counts may also come as numeric strings (CONTRACT §2: the storefront's Django-era API took
# them): `Annotated[Count, Field(…), FROM_TEXT]`, the conversion last so the bounds stay in the schema.
FROM_TEXT = BeforeValidator(_count_text)


class RequestModel(BaseModel):
    """camelCase or snake_case keys; unknown keys refused so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                              extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True)


class Problem(ResponseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    # Extension members, each on the problems that carry it (webhooks/problems.py), so clients can read them typed.
    current_status: Status | None = None  # invalid-transition
    allowed: list[Status] | None = None  # invalid-transition: the statuses the order may move to
    shortages: list[Shortage] | None = None  # insufficient-stock
    current_prices: dict[str, MoneyOut] | None = None  # price-mismatch: product id -> catalog price
    total: MoneyOut | None = None  # price-mismatch: the total at catalog prices
    item_count: int | None = None  # price-mismatch
    available: int | None = None  # stock-below-zero
    code: str | None = None  # token-not-valid, sign-in-refused: SimpleJWT's code
    retry_after: int | None = None  # sign-in-locked, rate-limited: seconds, as the Retry-After header says
    error: str | None = None  # API_COMPAT=drf: the title, as the Django-era storefront reads it
    details: list[str] | None = None  # API_COMPAT=drf: the field errors or shortages, one line each


class FieldError(ResponseModel):
    field: str
    message: str


class Shortage(ResponseModel):
    product_id: str
    name: str
    barcode: str
    wanted: int
    available: int


# --- products ---------------------------------------------------------------------------------

Rating = Annotated[Decimal, Field(ge=0, le=5, max_digits=3, decimal_places=2)]
SizeQuantities = Annotated[dict[Annotated[str, Field(max_length=50)], Annotated[Count, Field(ge=0, le=MAX_STOCK)]],
                           Field(max_length=50)]


class CatalogExtras(RequestModel):
    """What the Django-era catalog carried besides; each may be null."""

    subcategory: Annotated[str, Field(max_length=100)] | None = None
    brand: Annotated[str, Field(max_length=100)] | None = None
    rating: Rating | None = None
    review_count: Annotated[Count, Field(ge=0, le=1_000_000_000)] | None = None
    min_quantity: Annotated[Count, Field(ge=0, le=MAX_STOCK)] | None = None
    size_quantities: SizeQuantities | None = None


class ProductCreate(CatalogExtras):
    id: ProductId | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    barcode: Annotated[str, Field(min_length=1, max_length=64)]
    price: MoneyIn
    discounted_price: MoneyIn | None = None
    stock_quantity: Annotated[Count, Field(ge=0, le=MAX_STOCK)] = 0
    sizes: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=50)
    colors: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=50)
    image_url: Annotated[str, Field(max_length=2000)] | None = None
    image_urls: list[Annotated[str, Field(max_length=2000)]] | None = Field(default=None, max_length=20)
    description: Text = ""
    category: Annotated[str, Field(max_length=100)] = ""


def _documented_without_null(*fields: str):
    """A PATCH field that may be left out but not sent as null: the document offers no null for it."""
    def edit(schema: dict) -> None:
        for name in map(to_camel, fields):
            prop = schema["properties"][name]
            options = [s for s in prop.pop("anyOf") if s != {"type": "null"}]
            prop.pop("default", None)
            prop.update(options[0] if len(options) == 1 else {"anyOf": options})
    return edit


NOT_NULL = ("name", "barcode", "price", "stock_quantity", "sizes", "colors", "image_urls", "description", "category")


class ProductUpdate(CatalogExtras):
    model_config = ConfigDict(json_schema_extra=_documented_without_null(*NOT_NULL))

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    barcode: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    price: MoneyIn | None = None
    discounted_price: MoneyIn | None = None
    stock_quantity: Annotated[Count, Field(ge=0, le=MAX_STOCK)] | None = None
    sizes: list[Annotated[str, Field(max_length=50)]] | None = Field(default=None, max_length=50)
    colors: list[Annotated[str, Field(max_length=50)]] | None = Field(default=None, max_length=50)
    image_url: Annotated[str, Field(max_length=2000)] | None = None
    image_urls: list[Annotated[str, Field(max_length=2000)]] | None = Field(default=None, max_length=20)
    description: Text | None = None
    category: Annotated[str, Field(max_length=100)] | None = None

    @field_validator(*NOT_NULL, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """Leaving a field out keeps it; null for one a product must have is an error, not a 500."""
        if value is None:
            raise PydanticCustomError("null", "cannot be null; leave the field out to keep its value")
        return value


class StockAdjust(RequestModel):
    delta: Annotated[Count, Field(ge=-MAX_STOCK, le=MAX_STOCK)]
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "manual adjustment"


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    search: Annotated[str, Field(max_length=200)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    in_stock: bool | None = None
    ordering: Literal["price", "-price", "created_at", "-created_at", "name", "-name"] | None = None


class ProductOut(ResponseModel):
    id: str
    name: str
    barcode: str
    price: MoneyOut
    discounted_price: MoneyOut | None
    stock_quantity: int
    in_stock: bool
    sizes: list[str]
    colors: list[str]
    image_url: str | None
    image_urls: list[str]
    description: str
    category: str
    subcategory: str | None = None
    brand: str | None = None
    rating: float | None = None  # 0 to 5
    review_count: int | None = None
    min_quantity: int | None = None
    size_quantities: dict[str, int] | None = None  # stock per size, as the catalog had it
    created_at: datetime
    updated_at: datetime


# --- orders -----------------------------------------------------------------------------------

class OrderItemIn(RequestModel):
    product_id: ProductId | None = Field(default=None, validation_alias=AliasChoices("productId", "product_id", "product"))
    barcode: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    quantity: Annotated[Count, Field(gt=0, le=1000), FROM_TEXT]
    unit_price: MoneyIn | None = None
    selected_size: Annotated[str, Field(max_length=50)] | None = None
    selected_color: Annotated[str, Field(max_length=50)] | None = None
    # Display fields the Django-era storefront sends; the catalog is the truth, so they are ignored.
    product_name: Annotated[str, Field(max_length=500)] | None = None
    product_barcode: Annotated[str, Field(max_length=200)] | None = None
    product_image: Annotated[str, Field(max_length=2000)] | None = None
    subtotal: MoneyIn | None = None

    @model_validator(mode="after")
    def _named(self) -> OrderItemIn:
        if not self.product_id and not self.barcode:
            raise PydanticCustomError("product", "each item needs productId (or product) or barcode")
        return self


class OrderCreate(RequestModel):
    order_reference: Annotated[str, Field(max_length=40)] | None = None
    customer_name: Annotated[str, Field(min_length=1, max_length=200)]
    customer_phone: Annotated[str, Field(min_length=3, max_length=40)]
    customer_address: Text = ""
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=100)]
    total: MoneyIn | None = None
    item_count: Annotated[Count, Field(ge=0), FROM_TEXT] | None = None
    notes: Text = ""
    order_date: Annotated[str, Field(max_length=100)] | None = None  # accepted, ignored: the server clock is the truth


class OrderUpdate(RequestModel):
    status: StatusIn | None = None
    note: Text | None = None


class CancelRequest(RequestModel):
    reason: Text = ""


class OrderQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: StatusIn | None = None
    search: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class OrderItemOut(ResponseModel):
    product_id: str
    product_name: str
    product_barcode: str
    product_image: str | None
    quantity: int
    unit_price: MoneyOut
    selected_size: str | None
    selected_color: str | None
    subtotal: MoneyOut


class HistoryOut(ResponseModel):
    from_: Status | None = Field(serialization_alias="from", validation_alias="from")
    to: Status | None
    at: datetime
    by: str
    note: str


class DeliveryLocationOut(ResponseModel):
    """Where to deliver, as the customer shared it on WhatsApp (CONTRACT §4)."""
    latitude: float
    longitude: float
    address: str | None
    label: str | None
    at: datetime


class PaymentProofOut(ResponseModel):
    kind: str
    provider: str | None
    transaction_code: str | None
    amount: MoneyOut | None
    currency: str | None
    received_at: datetime
    media_url: str | None
    flags: list[str]
    verified_by: Literal["admin", "ledger"] | None = None  # who verified it: an admin's `paid`, or the shop's ledger


class OrderOut(ResponseModel):
    id: str
    order_reference: str
    customer_name: str
    customer_phone: str
    customer_address: str
    notes: str
    status: Status
    payment_status: PaymentStatus
    total: MoneyOut
    item_count: int
    items: list[OrderItemOut]
    history: list[HistoryOut]
    payment_proofs: list[PaymentProofOut]
    delivery_location: DeliveryLocationOut | None
    created_at: datetime
    updated_at: datetime


class OrderCreated(OrderOut):
    whatsapp_url: str


class OrderPage(ResponseModel):
    count: int
    limit: int
    offset: int
    results: list[OrderOut]


class MediaOut(ResponseModel):
    url: str
    content_type: str


class MessageOut(ResponseModel):
    direction: Literal["inbound", "outbound"]
    phone: str
    body: str
    media: list[MediaOut]
    at: datetime
    status: str
    sid: str | None
    kind: str | None
    error_code: str | None


# --- the shop's own ledger (CONTRACT §4) --------------------------------------------------------

class LedgerQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    unmatched: bool | None = None  # true: only money that paid no order
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class LedgerEntryOut(ResponseModel):
    """Money the shop's own phone received, as its text said, and the order it paid (if any)."""
    id: int
    provider: str
    kind: str
    transaction_code: str | None
    amount: MoneyOut
    currency: str
    payer_name: str | None
    payer_phone: str | None  # E.164 when the text shows it whole; as printed when it masks digits
    payer_phone_masked: bool
    account: str | None  # what the payer typed for the shop (Paybill account, reference, a bank's description)
    paid_at: datetime | None  # the time the text gives
    received_at: datetime  # when the shop's phone got it
    text: str
    source: Literal["forwarder", "whatsapp"]
    sender: str | None
    order_reference: str | None  # the order it paid; null: money with no order
    matched_by: Literal["claim", "reference", "phone"] | None
    created_at: datetime


class LedgerPage(ResponseModel):
    count: int
    limit: int
    offset: int
    results: list[LedgerEntryOut]


# --- accounts: SimpleJWT's wire format, snake_case in every mode (CONTRACT §2 Accounts) ------------

Username = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")]
Email = Annotated[str, Field(max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")]
PersonName = Annotated[str, Field(max_length=150)]
Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class AuthRequest(RequestModel):
    """Passwords are taken exactly as typed: no whitespace stripped."""

    model_config = ConfigDict(str_strip_whitespace=False)


class TokenObtain(AuthRequest):
    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Secret


class TokenRefresh(AuthRequest):
    refresh: Annotated[str, Field(min_length=1, max_length=4096)]


class Register(AuthRequest):
    username: Username
    email: Email
    password: Annotated[str, Field(min_length=8, max_length=1024)]
    password_confirm: Secret
    first_name: PersonName = ""
    last_name: PersonName = ""
    phone: Annotated[str, Field(max_length=40)] | None = None
    # Sent by the storefront's sign-up form; accepted and ignored: registration always makes a buyer.
    role: Literal["buyer", "seller", "admin"] | None = None
    shopname: Annotated[str, Field(max_length=200)] | None = None
    shopdes: Annotated[str, Field(max_length=2000)] | None = None


class ProfileUpdate(AuthRequest):
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    email: Email | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None  # null or "" clears it


class UserOut(BaseModel):
    """The account as the storefront reads it; `role` is admin, seller or buyer. `phone_verified`:
    whether `link <code>` came from that phone, which is what opens its orders."""

    id: str
    username: str
    email: str
    role: Literal["admin", "seller", "buyer"]
    first_name: str
    last_name: str
    phone: str | None
    phone_verified: bool


class TokenPair(BaseModel):
    access: str
    refresh: str
    user: UserOut


class AccessToken(BaseModel):
    access: str


class PhoneLink(ResponseModel):
    code: str
    whatsapp_url: str


class Health(ResponseModel):
    status: Literal["ok", "unavailable", "schema-behind"]


Problem.model_rebuild()
