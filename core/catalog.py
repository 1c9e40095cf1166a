"""Products: create, change, list, and the demo catalog."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from core import stock
from core.errors import DuplicateBarcode, DuplicateProductId, NotFound
from core.models import Product

# Fields a PATCH may change; stock goes through `stock.adjust` so it leaves a movement.
EDITABLE = ("name", "barcode", "price", "discounted_price", "sizes", "colors", "image_urls", "description", "category",
            "subcategory", "brand", "rating", "review_count", "min_quantity", "size_quantities")


@dataclass
class ProductFilter:
    search: str | None = None
    category: str | None = None
    in_stock: bool | None = None
    ordering: str | None = None


ORDERINGS = {
    "price": Product.price.asc(), "-price": Product.price.desc(),
    "created_at": Product.created_at.asc(), "-created_at": Product.created_at.desc(),
    "name": Product.name.asc(), "-name": Product.name.desc(),
}


async def list_products(uow, flt: ProductFilter | None = None) -> list[Product]:
    flt = flt or ProductFilter()
    query = select(Product)
    if flt.search:
        term = flt.search.strip().lower()
        query = query.where(or_(*(func.lower(column).contains(term, autoescape=True)
                                  for column in (Product.name, Product.barcode, Product.description))))
    if flt.category:
        query = query.where(func.lower(Product.category) == flt.category.strip().lower())
    if flt.in_stock is not None:
        query = query.where((Product.stock_quantity > 0) if flt.in_stock else (Product.stock_quantity <= 0))
    query = query.order_by(ORDERINGS.get(flt.ordering or "name", Product.name.asc()), Product.id)
    return list((await uow.session.execute(query)).scalars())


async def get_product(uow, product_id: str) -> Product:
    product = await uow.session.get(Product, product_id)
    if product is None:
        raise NotFound("product", product_id)
    return product


async def create_product(uow, *, actor: str, stock_quantity: int = 0, id: str | None = None, **fields) -> Product:
    now = uow.now()
    if id is not None and await uow.session.get(Product, id) is not None:
        raise DuplicateProductId(id)
    product = Product(id=id, stock_quantity=0, created_at=now, updated_at=now, **_defaults(fields))
    await _add(uow, product, fields.get("barcode"))
    if stock_quantity:
        product = await stock.adjust(uow.session, product.id, delta=stock_quantity, reason="initial stock",
                                     actor=actor, now=now)
    return product


async def update_product(uow, product_id: str, *, actor: str, stock_quantity: int | None = None, **fields) -> Product:
    product = await get_product(uow, product_id)
    changed = {k: v for k, v in fields.items() if k in EDITABLE}
    for key, value in changed.items():
        setattr(product, key, value)
    if changed:
        product.updated_at = uow.now()
        await _add(uow, product, changed.get("barcode"))
    if stock_quantity is not None:
        product = await stock.adjust(uow.session, product_id, set_to=stock_quantity, reason="set by edit",
                                     actor=actor, now=uow.now())
    return product


async def adjust_stock(uow, product_id: str, delta: int, reason: str, actor: str) -> Product:
    return await stock.adjust(uow.session, product_id, delta=delta, reason=reason, actor=actor, now=uow.now())


async def set_stock(uow, product_id: str, level: int, reason: str, actor: str) -> Product:
    return await stock.adjust(uow.session, product_id, set_to=level, reason=reason, actor=actor, now=uow.now())


async def find_by_barcode(uow, barcode: str, *, for_update: bool = False) -> Product:
    """The product with this barcode, in any letter case (locked until the commit with `for_update`).
    Raises NotFound."""
    query = select(Product).where(func.lower(Product.barcode) == barcode.strip().lower())
    product = (await uow.session.execute(query.with_for_update() if for_update else query)).scalar_one_or_none()
    if product is None:
        raise NotFound("product with barcode", barcode)
    return product


async def _add(uow, product: Product, barcode: str | None) -> None:
    try:
        async with uow.session.begin_nested():
            uow.session.add(product)
    except IntegrityError:
        raise DuplicateBarcode(barcode or product.barcode) from None


def _defaults(fields: dict) -> dict:
    out = {"sizes": [], "colors": [], "image_urls": [], "description": "", "category": ""}
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


DEMO_CATALOG = [
    dict(id="7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a01", name="Classic Oxford Shirt", barcode="LEG-SHIRT-001",
         price=Decimal("1500.00"), stock_quantity=25, sizes=["S", "M", "L", "XL"], colors=["White", "Blue"],
         category="shirts", description="Cotton oxford, button-down collar.",
         image_urls=["https://example.com/img/oxford.jpg"]),
    dict(id="7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a02", name="Slim Chinos", barcode="LEG-CHINO-002",
         price=Decimal("2400.00"), stock_quantity=12, sizes=["30", "32", "34", "36"], colors=["Khaki", "Black"],
         category="trousers", description="Stretch cotton, slim fit.",
         image_urls=["https://example.com/img/chinos.jpg"]),
    dict(id="7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a03", name="Leather Belt", barcode="LEG-BELT-003",
         price=Decimal("900.00"), stock_quantity=8, sizes=[], colors=["Brown", "Black"],
         category="accessories", description="Full-grain leather.", image_urls=[]),
    dict(id="7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a04", name="Kikoi Beach Shorts", barcode="LEG-KIKOI-004",
         price=Decimal("1200.00"), stock_quantity=3, sizes=["M", "L"], colors=["Striped"],
         category="shorts", description="Handwoven kikoi cotton.", image_urls=[]),
]


async def has_products(uow) -> bool:
    return await uow.session.scalar(select(Product.id).limit(1)) is not None


async def seed_demo(uow, actor: str = "seed-demo") -> int:
    """Loads the demo catalog; products already there (by id) are left alone. Returns how many were added."""
    added = 0
    for row in DEMO_CATALOG:
        if await uow.session.get(Product, row["id"]) is None:
            await create_product(uow, actor=actor, **row)
            added += 1
    return added
