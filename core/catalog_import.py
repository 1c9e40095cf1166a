"""Moving an existing catalog in, ids kept (CONTRACT §2, "The storefront that exists").

The rows are the Django-era backend's product list: `id, name, description, barcode, category,
subcategory, brand, price, discountedPrice, quantity, inStock, sizes, colors, sizeQuantities,
minQuantity, rating, reviewCount, imagePaths, primaryImage, createdAt, updatedAt` (snake_case
spellings accepted too). A discountedPrice of 0 is no discount and is kept as none, from a JSON array or CSV with those columns.
A row updates the product with its id, else the one with its barcode, else creates one. Stock of
a product already here is the shop's live count, so it changes only when asked (`stock=True`).
Running the same file again changes nothing. A bad row is reported with its reason and skipped;
the good rows still go in.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from core import catalog, stock
from core.stock import MAX_STOCK
from core.errors import DomainError, DuplicateBarcode
from core.models import CENTS, Product

ACTOR = "catalog-import"
MAX_PRICE = Decimal("9999999999.99")

# field -> the keys it may come under, the old backend's first
KEYS = {
    "id": ("id", "pk"),
    "name": ("name",),
    "barcode": ("barcode",),
    "price": ("price",),
    "discounted_price": ("discountedPrice", "discounted_price"),
    "quantity": ("quantity", "stockQuantity", "stock_quantity"),
    "sizes": ("sizes",),
    "colors": ("colors",),
    "image_paths": ("imagePaths", "image_paths", "imageUrls", "image_urls"),
    "primary_image": ("primaryImage", "primary_image", "imageUrl", "image_url"),
    "description": ("description",),
    "category": ("category",),
    "subcategory": ("subcategory",),
    "brand": ("brand",),
    "rating": ("rating",),
    "review_count": ("reviewCount", "review_count"),
    "min_quantity": ("minQuantity", "min_quantity"),
    "size_quantities": ("sizeQuantities", "size_quantities"),
    "created_at": ("createdAt", "created_at"),
}
# Product fields a row can set, and how long each may be
TEXT_LIMITS = {"name": 200, "barcode": 64, "category": 100, "description": 2000}
OPTIONAL_TEXT_LIMITS = {"subcategory": 100, "brand": 100}  # blank is none
MAX_RATING, MAX_REVIEWS, MAX_SIZES = Decimal("5"), 1_000_000_000, 50
LIST_LIMITS = {"sizes": (50, 50), "colors": (50, 50), "image_urls": (20, 2000)}  # (entries, characters each)


class UnreadableCatalog(DomainError):
    """The file as a whole is not a product list (as opposed to one bad row)."""


class RowError(Exception):
    """Why one row is rejected, in words the shop can act on."""


@dataclass
class Incoming:
    """One row, checked: the product fields it carries (only those), and its stock."""

    id: str | None
    fields: dict
    quantity: int | None
    created_at: datetime | None

    @property
    def barcode(self) -> str:
        return self.fields["barcode"]


@dataclass
class Rejected:
    row: int
    label: str
    reason: str


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"catalog import: {len(self.created)} created, {len(self.updated)} updated, "
               f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected"]
        out += [f"rejected row {r.row}{r.label}: {r.reason}" for r in self.rejected]
        out += self.notes
        return out


# --- reading a file ---------------------------------------------------------------------------

@dataclass
class CatalogFile:
    rows: list
    first_row: int = 1  # what the report calls the first product: 2 in a CSV, as a spreadsheet numbers it


def read_rows(text: str) -> CatalogFile:
    """A JSON array of products (or a DRF page's `results`), or CSV with a header row."""
    text = text.lstrip("\ufeff")
    if text.lstrip()[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UnreadableCatalog(f"the file looks like JSON but is not valid JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            raise UnreadableCatalog("the JSON must be an array of products")
        return CatalogFile(data)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not {"name", "price"} <= set(header):
        raise UnreadableCatalog("the CSV needs a header row naming its columns: id, name, barcode, price, "
                                f"quantity, ... (found: {', '.join(header) or 'nothing'})")
    reader.fieldnames = header
    return CatalogFile([{k: v for k, v in row.items() if k} for row in reader], first_row=2)


# --- checking a row ---------------------------------------------------------------------------

def parse_row(raw: object) -> Incoming:
    if not isinstance(raw, dict):
        raise RowError(f"not a product object but {type(raw).__name__}")
    present = {name: _pick(raw, keys) for name, keys in KEYS.items()}
    present = {name: value for name, value in present.items() if value is not _ABSENT}
    fields: dict = {}
    for name, limit in TEXT_LIMITS.items():
        if name in present:
            fields[name] = _text(present[name], name, limit)
    for required in ("name", "barcode"):
        if not fields.get(required):
            raise RowError(f"missing {required}")
    if _blank(present.get("price")):
        raise RowError("missing price")
    fields["price"] = _money(present["price"], "price")
    if "discounted_price" in present:
        value = present["discounted_price"]
        discount = None if _blank(value) else _money(value, "discountedPrice")
        fields["discounted_price"] = discount or None  # 0 is no discount: the product sells at its price
    for name in ("sizes", "colors"):
        if name in present:
            fields[name] = _list(present[name], name, *LIST_LIMITS[name])
    if "image_paths" in present or "primary_image" in present:
        images = _list(present.get("image_paths"), "imagePaths", *LIST_LIMITS["image_urls"])
        primary = present.get("primary_image")
        if not _blank(primary):
            primary = _text(primary, "primaryImage", LIST_LIMITS["image_urls"][1])
            images = [primary] + [i for i in images if i != primary]  # an order item shows the first image
        fields["image_urls"] = images[:LIST_LIMITS["image_urls"][0]]
    for name, limit in OPTIONAL_TEXT_LIMITS.items():
        if name in present:
            fields[name] = _text(present[name], name, limit) or None
    if "rating" in present:
        fields["rating"] = None if _blank(present["rating"]) else _rating(present["rating"])
    for name, label, most in (("review_count", "reviewCount", MAX_REVIEWS), ("min_quantity", "minQuantity", MAX_STOCK)):
        if name in present:
            fields[name] = None if _blank(present[name]) else _count(present[name], label, most)
    if "size_quantities" in present:
        fields["size_quantities"] = _size_quantities(present["size_quantities"])
    quantity = None if _blank(present.get("quantity")) else _count(present["quantity"])
    return Incoming(_id(present.get("id")), fields, quantity, _time(present.get("created_at")))


_ABSENT = object()


def _pick(raw: dict, keys: tuple[str, ...]):
    for key in keys:
        if key in raw:
            return raw[key]
    return _ABSENT


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value, name: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(f"bad {name}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    if "\x00" in text:
        raise RowError(f"bad {name}: contains a NUL character")
    if len(text) > limit:
        raise RowError(f"bad {name}: {len(text)} characters, at most {limit}")
    return text


def _money(value, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(f"bad {name} {value!r}: not a number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(f"bad {name} {value!r}: not a number") from None
    if not amount.is_finite() or amount < 0:
        raise RowError(f"bad {name} {value!r}: must be a number of 0 or more")
    if amount != amount.quantize(CENTS) or amount > MAX_PRICE:
        raise RowError(f"bad {name} {value!r}: at most 2 decimal places and under 10 000 000 000")
    return amount.quantize(CENTS)


def _count(value, name: str = "quantity", most: int = MAX_STOCK) -> int:
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError
        number = Decimal(str(value).strip())
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError
    except (ValueError, InvalidOperation):
        raise RowError(f"bad {name} {value!r}: must be a whole number") from None
    if not 0 <= number <= most:
        raise RowError(f"bad {name} {value!r}: must be between 0 and {most}")
    return int(number)


def _rating(value) -> Decimal:
    rating = _money(value, "rating")
    if rating > MAX_RATING:
        raise RowError(f"bad rating {value!r}: must be between 0 and {MAX_RATING}")
    return rating


def _size_quantities(value) -> dict | None:
    """`{"M": 4, "L": 0}`, or (as a CSV cell holds it) JSON text of one; blank is none."""
    if _blank(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise RowError(f"bad sizeQuantities {_short(value)!r}: not a JSON object of size -> count") from None
    if not isinstance(value, dict):
        raise RowError(f"bad sizeQuantities: expected an object of size -> count, got {type(value).__name__}")
    if len(value) > MAX_SIZES:
        raise RowError(f"bad sizeQuantities: {len(value)} sizes, at most {MAX_SIZES}")
    return {_text(size, "sizeQuantities", 50): _count(count, f"sizeQuantities[{size}]") for size, count in value.items()}


def _list(value, name: str, max_entries: int, max_chars: int) -> list[str]:
    """A JSON list, or (as CSV cells hold them) JSON text of one, or a comma list `S, M, L`."""
    if _blank(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise RowError(f"bad {name} {text!r}: starts like a JSON list but is not one") from None
        else:
            value = text.split(",")
    if not isinstance(value, list):
        raise RowError(f"bad {name}: expected a list, got {type(value).__name__}")
    items = [_text(v, name, max_chars) for v in value]
    items = [i for i in items if i]
    if len(items) > max_entries:
        raise RowError(f"bad {name}: {len(items)} entries, at most {max_entries}")
    return items


def _id(value) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError(f"bad id {value!r}: expected text or a whole number")
    text = str(value).strip()  # the old backend's integer ids become their decimal string
    if len(text) > 64 or any(c in text for c in "/?#%\\") or any(c.isspace() or ord(c) < 32 for c in text):
        raise RowError(f"bad id {text!r}: at most 64 characters, without spaces or / ? # % \\ (it goes in URLs)")
    return text


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None  # a timestamp is kept when it can be read; it is no reason to refuse a product
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _label(raw: object) -> str:
    if not isinstance(raw, dict):
        return ""
    parts = [f"{name} {_short(value)!r}" for name, keys in (("id", KEYS["id"]), ("barcode", KEYS["barcode"]),
                                                    ("name", KEYS["name"]))
             if not _blank(value := _pick(raw, keys)) and value is not _ABSENT]
    return f" ({', '.join(parts)})" if parts else ""


def _short(value):
    return value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value


# --- applying the rows ------------------------------------------------------------------------

async def import_catalog(uow, rows: list, *, stock_too: bool = False, first_row: int = 1,
                         actor: str = ACTOR) -> ImportReport:
    """Create or update a product per row; the caller commits. Safe to run again with the same rows.
    A row with nothing in it (a spreadsheet's empty line) is skipped."""
    report = ImportReport()
    everything = list((await uow.session.execute(select(Product))).scalars())
    by_id = {p.id: p for p in everything}
    by_barcode = {p.barcode.lower(): p for p in everything}
    seen_ids: dict[str, int] = {}
    seen_barcodes: dict[str, int] = {}
    stock_kept = 0
    for number, raw in enumerate(rows, start=first_row):
        if isinstance(raw, dict) and raw and all(_blank(v) for v in raw.values()):
            continue
        try:
            incoming = parse_row(raw)
            _not_twice(incoming, number, seen_ids, seen_barcodes)
            target = by_id.get(incoming.id) if incoming.id else None
            if target is None:
                target = by_barcode.get(incoming.barcode.lower())
                if target is not None and incoming.id:
                    report.notes.append(f"note row {number}: id {incoming.id!r} is new but barcode "
                                        f"{incoming.barcode!r} belongs to product {target.id!r}; updated that "
                                        "product, which keeps its id")
            holder = by_barcode.get(incoming.barcode.lower())
            if holder is not None and holder is not target:
                raise RowError(f"duplicate barcode {incoming.barcode!r}: product {holder.id!r} already has it")
            if target is None:
                product = await _create(uow, incoming, actor)
                report.created.append(product.id)
            else:
                before = target.barcode.lower()
                product, changed = await _update(uow, target, incoming, stock_too, actor)
                by_barcode.pop(before, None)
                (report.updated if changed else report.unchanged).append(product.id)
        except RowError as exc:
            report.rejected.append(Rejected(number, _label(raw), str(exc)))
            continue
        if target is not None and not stock_too and incoming.quantity not in (None, product.stock_quantity):
            stock_kept += 1
        by_id[product.id] = product
        by_barcode[product.barcode.lower()] = product
    if stock_kept:
        report.notes.append(f"note: {stock_kept} existing product(s) have another quantity in the file; their "
                            "live stock was kept (run with --stock to set it from the file)")
    return report


def _not_twice(incoming: Incoming, number: int, seen_ids: dict, seen_barcodes: dict) -> None:
    if incoming.id is not None:
        if incoming.id in seen_ids:
            raise RowError(f"duplicate id {incoming.id!r}: row {seen_ids[incoming.id]} has it too")
        seen_ids[incoming.id] = number
    key = incoming.barcode.lower()
    if key in seen_barcodes:
        raise RowError(f"duplicate barcode {incoming.barcode!r}: row {seen_barcodes[key]} has it too")
    seen_barcodes[key] = number


async def _create(uow, incoming: Incoming, actor: str) -> Product:
    try:
        product = await catalog.create_product(uow, actor=actor, id=incoming.id,
                                               stock_quantity=incoming.quantity or 0, **incoming.fields)
    except DuplicateBarcode:  # written meanwhile by someone else; the unique index caught it
        raise RowError("duplicate barcode or id: another product took it during the import") from None
    if incoming.created_at is not None:  # the storefront orders by it; keep the catalog's own order
        product.created_at = incoming.created_at
        await uow.session.flush()
    return product


async def _update(uow, product: Product, incoming: Incoming, stock_too: bool, actor: str) -> tuple[Product, bool]:
    changes = {k: v for k, v in incoming.fields.items() if getattr(product, k) != v}
    if changes:
        product = await catalog.update_product(uow, product.id, actor=actor, **changes)
    restock = stock_too and incoming.quantity is not None and incoming.quantity != product.stock_quantity
    if restock:
        product = await stock.adjust(uow.session, product.id, set_to=incoming.quantity, reason="catalog import",
                                     actor=actor, now=uow.now())
    return product, bool(changes) or restock
