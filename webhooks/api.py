"""REST routes for the storefront and the admins. Each handler: one operation in the request's unit of work
(`call.tx`, opened by webhooks/routing.py), one commit, answer."""
from __future__ import annotations

from functools import partial
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import text

from bot import replies
from core import accounts, catalog, inbox, migrate, orders, views
from core.errors import InvalidField, NotFound
from core.models import Account, Product
from core.tokens import STAFF_ROLES, Role
from webhooks import compat, keys, ratelimit, schemas as s, shapes
from webhooks.compat import respond
from webhooks.ledger import entry_out
from webhooks.routing import Call, Route

STAFF = STAFF_ROLES
OWNER = frozenset({Role.ADMIN, Role.STAFF, Role.CUSTOMER})
ANYONE_SIGNED_IN = OWNER
DRF_LIST_LIMIT = 1000  # API_COMPAT=drf without `limit`: that storefront never pages


def json(model, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json", by_alias=True), status=status)


def product_out(p: Product) -> s.ProductOut:
    return s.ProductOut(id=p.id, name=p.name, barcode=p.barcode, price=p.price, discounted_price=p.discounted_price,
                        stock_quantity=p.stock_quantity, in_stock=p.in_stock, sizes=p.sizes, colors=p.colors,
                        image_url=p.image_url, image_urls=p.image_urls, description=p.description,
                        category=p.category, subcategory=p.subcategory, brand=p.brand, rating=None if p.rating is None else float(p.rating),
                        review_count=p.review_count, min_quantity=p.min_quantity, size_quantities=p.size_quantities,
                        created_at=p.created_at, updated_at=p.updated_at)


# --- system -----------------------------------------------------------------------------------

SCHEMA_REVISION = text("SELECT version_num FROM alembic_version")


async def health(call: Call) -> web.Response:
    try:
        async with call.uow(readonly=True) as tx:
            revision = await tx.scalar(SCHEMA_REVISION)
    except Exception:  # no answer, or no tables yet: "unavailable", by design
        return json(s.Health(status="unavailable"), 503)
    if migrate.is_behind(revision):  # `orderdesk db upgrade` has not run for this release yet
        return json(s.Health(status="schema-behind"), 503)
    return json(s.Health(status="ok"))


# --- products ---------------------------------------------------------------------------------

async def list_products(call: Call) -> web.Response:
    q = call.query
    rows = await catalog.list_products(call.tx, catalog.ProductFilter(q.search, q.category, q.in_stock, q.ordering))
    return respond(call, lambda: [product_out(p) for p in rows], partial(compat.products, rows))


def _product_fields(body: s.ProductCreate | s.ProductUpdate) -> dict:
    fields = body.model_dump(exclude_unset=True, exclude={"image_url"})
    if body.image_url is not None and not fields.get("image_urls"):
        fields["image_urls"] = [body.image_url]
    return fields


async def create_product(call: Call) -> web.Response:
    product = await catalog.create_product(call.tx, actor=call.actor, **_product_fields(call.body))
    await call.tx.commit()
    return respond(call, partial(product_out, product), partial(compat.product, product), 201)


async def get_product(call: Call) -> web.Response:
    product = await catalog.get_product(call.tx, call.request.match_info["id"])
    return respond(call, partial(product_out, product), partial(compat.product, product))


async def update_product(call: Call) -> web.Response:
    product = await catalog.update_product(call.tx, call.request.match_info["id"], actor=call.actor,
                                           **_product_fields(call.body))
    await call.tx.commit()
    return respond(call, partial(product_out, product), partial(compat.product, product))


async def adjust_stock(call: Call) -> web.Response:
    product = await catalog.adjust_stock(call.tx, call.request.match_info["id"], call.body.delta,
                                         call.body.reason, call.actor)
    await call.tx.commit()
    return respond(call, partial(product_out, product), partial(compat.product, product))


# --- orders -----------------------------------------------------------------------------------

def whatsapp_url(settings, reference: str) -> str:
    text_ = replies.storefront_prefill(settings.shop_name, reference)
    return f"https://wa.me/{settings.shop_phone_digits}?text={quote(text_)}"


async def create_order(call: Call) -> web.Response:
    b = call.body
    new = orders.NewOrder(
        reference=b.order_reference, customer_name=b.customer_name, customer_phone=b.customer_phone,
        customer_address=b.customer_address, notes=b.notes, total=b.total, item_count=b.item_count,
        items=[orders.NewItem(quantity=i.quantity, product_id=i.product_id, barcode=i.barcode,
                              unit_price=i.unit_price, selected_size=i.selected_size,
                              selected_color=i.selected_color) for i in b.items],
        account_id=_buyer(call))
    outcome = await orders.create_order(call.tx, new, actor=call.actor)
    await call.tx.commit()
    order = outcome.order
    link = whatsapp_url(call.settings, order.reference)
    return respond(call, partial(shapes.order, order, whatsapp_url=link),
                   partial(compat.order, order, whatsapp_url=link), 201 if outcome.changed else 200)


def _buyer(call: Call) -> str | None:
    """The account an order placed in this call belongs to: a signed-in buyer's; else None."""
    token = call.token
    return token.account_id if token is not None and token.role == Role.CUSTOMER else None


def _limit(call: Call) -> int:
    """The page size asked for; with API_COMPAT=drf and none asked, the 1,000 newest."""
    q = call.query
    if "limit" not in q.model_fields_set and call.settings.api_compat == compat.DRF:
        return DRF_LIST_LIMIT
    return q.limit


async def list_orders(call: Call) -> web.Response:
    q, limit = call.query, _limit(call)
    count, rows = await orders.list_orders(call.tx, status=q.status, search=q.search, limit=limit, offset=q.offset)
    return respond(call, partial(shapes.page, count, limit, q.offset, rows), partial(compat.page, count, rows))


async def my_orders(call: Call) -> web.Response:
    """A customer token's phone's orders; a buyer account's own orders and its verified phone's."""
    q, limit = call.query, _limit(call)
    count, rows = await orders.list_orders(call.tx, phone=call.token.phone, account_id=call.token.account_id,
                                           status=q.status, limit=limit, offset=q.offset)
    return respond(call, partial(shapes.page, count, limit, q.offset, rows), partial(compat.page, count, rows))


async def get_order(call: Call) -> web.Response:
    key, token = call.request.match_info["id"], call.token
    order = await orders.find_order(call.tx, key)
    mine = ((token.account_id is not None and order.account_id == token.account_id)
            or (token.phone is not None and order.customer_phone == token.phone))
    if token.role == Role.CUSTOMER and not mine:
        raise NotFound("order", key)  # another customer's order does not exist, as far as you can tell
    return respond(call, partial(shapes.order, order), partial(compat.order, order))


async def update_order(call: Call) -> web.Response:
    key, b = call.request.match_info["id"], call.body
    outcome = None
    if b.status is not None:
        outcome = await orders.change_status(call.tx, key, b.status, call.actor, note=b.note or "")
    if b.note and not (outcome and outcome.changed):
        outcome = await orders.add_note(call.tx, key, b.note, call.actor)
    order = outcome.order if outcome else await orders.find_order(call.tx, key)
    await call.tx.commit()
    return respond(call, partial(shapes.order, order), partial(compat.order, order))


async def confirm_order(call: Call) -> web.Response:
    outcome = await orders.confirm_order(call.tx, call.request.match_info["id"], call.actor)
    await call.tx.commit()
    return respond(call, partial(shapes.order, outcome.order),
                   partial(compat.confirmation, outcome.order, outcome.changed))


async def cancel_order(call: Call) -> web.Response:
    outcome = await orders.cancel_order(call.tx, call.request.match_info["id"], call.actor, call.body.reason)
    await call.tx.commit()
    return respond(call, partial(shapes.order, outcome.order), partial(compat.order, outcome.order))


async def order_messages(call: Call) -> web.Response:
    order = await orders.find_order(call.tx, call.request.match_info["id"])
    rows = await inbox.conversation(call.tx, order.id)
    return web.json_response([s.MessageOut.model_validate(r).model_dump(mode="json", by_alias=True) for r in rows])


# --- the shop's own ledger --------------------------------------------------------------------------

async def list_ledger(call: Call) -> web.Response:
    q = call.query
    count, rows = await views.ledger_page(call.tx, unmatched=q.unmatched, limit=q.limit, offset=q.offset)
    return shapes.json_response({"count": count, "limit": q.limit, "offset": q.offset,
                                 "results": [ledger_out(row) for row in rows]})


def ledger_out(row) -> dict:
    return entry_out(row, row.order_reference)


# --- accounts (SimpleJWT's snake_case in every mode) ---------------------------------------------

def user_out(a: Account) -> dict:
    return s.UserOut(id=a.id, username=a.username, email=a.email, role=accounts.ROLE_NAMES[Role(a.role)],
                     first_name=a.first_name, last_name=a.last_name, phone=a.phone,
                     phone_verified=bool(a.phone and a.verified_phone == a.phone)).model_dump()


def _issued(issued: accounts.Issued, status: int = 200) -> web.Response:
    return shapes.json_response({"access": issued.access, "refresh": issued.refresh,
                                 "user": user_out(issued.account)}, status)


async def obtain_token(call: Call) -> web.Response:
    app = call.request.app
    issued = await accounts.sign_in(call.uow, app[keys.PASSWORDS], app[keys.TOKENS], call.body.username,
                                    call.body.password)
    return _issued(issued)


async def refresh_token(call: Call) -> web.Response:
    access = await accounts.refresh(call.tx, call.request.app[keys.TOKENS], call.body.refresh)
    await call.tx.commit()  # the signing key, if this is the first token of a fresh database
    return shapes.json_response({"access": access})


async def register(call: Call) -> web.Response:
    b, app = call.body, call.request.app
    if b.password != b.password_confirm:
        raise InvalidField("password_confirm", "", "the two passwords differ")
    new = accounts.NewAccount(username=b.username, password=b.password, email=b.email.strip(),
                              first_name=b.first_name.strip(), last_name=b.last_name.strip(), phone=b.phone or None)
    issued = await accounts.register(call.uow, app[keys.PASSWORDS], app[keys.TOKENS], new)
    return _issued(issued, 201)


async def get_profile(call: Call) -> web.Response:
    return shapes.json_response(user_out(await accounts.get_account(call.tx, call.token)))


async def update_profile(call: Call) -> web.Response:
    changes = {k: (v.strip() if isinstance(v, str) else v) for k, v in call.body.model_dump(exclude_unset=True).items()}
    for name in ("first_name", "last_name", "email"):
        if changes.get(name, "") is None:
            raise InvalidField(name, "null", "cannot be null; leave the field out to keep its value")
    account = await accounts.update_profile(call.tx, call.token, **changes)
    await call.tx.commit()
    return shapes.json_response(user_out(account))


async def link_phone(call: Call) -> web.Response:
    _, code = await accounts.start_phone_link(call.tx, call.token)
    await call.tx.commit()
    url = f"https://wa.me/{call.settings.shop_phone_digits}?text={quote(f'link {code}')}"
    return json(s.PhoneLink(code=code, whatsapp_url=url))


E = (400, 401, 403, 404, 409)
ROUTES: list[Route] = [
    Route("GET", "/health", health, "Liveness: the database answers and its schema is not behind the code",
          responses={200: s.Health, 503: s.Health}, tag="system", in_transaction=False),
    Route("GET", "/api/products/", list_products, "The catalog", query=s.ProductQuery,
          responses={200: list[s.ProductOut]}, errors=(400, 401), tag="products"),
    Route("POST", "/api/products/", create_product, "Add a product", roles=STAFF, body=s.ProductCreate,
          responses={201: s.ProductOut}, errors=E, tag="products"),
    Route("GET", "/api/products/{id}/", get_product, "One product", responses={200: s.ProductOut},
          errors=(401, 404), tag="products"),
    Route("PATCH", "/api/products/{id}/", update_product, "Change a product", roles=STAFF, body=s.ProductUpdate,
          responses={200: s.ProductOut}, errors=E, tag="products"),
    Route("POST", "/api/products/{id}/stock/", adjust_stock, "Adjust stock by a delta (never below 0)",
          roles=STAFF, body=s.StockAdjust, responses={200: s.ProductOut}, errors=E, tag="products"),
    Route("POST", "/api/orders/", create_order, "Create a pending order (guest checkout)", body=s.OrderCreate,
          responses={201: s.OrderCreated, 200: s.OrderCreated}, errors=(400, 401, 409, 429), tag="orders",
          throttle=ratelimit.guest_checkout),
    Route("GET", "/api/orders/", list_orders, "Orders, newest first", roles=STAFF, query=s.OrderQuery,
          responses={200: s.OrderPage}, errors=(400, 401, 403), tag="orders"),
    Route("GET", "/api/orders/my-orders/", my_orders,
          "A customer token's phone's orders; a buyer's own orders and its verified phone's",
          roles=frozenset({Role.CUSTOMER}), query=s.OrderQuery, responses={200: s.OrderPage},
          errors=(400, 401, 403), tag="orders"),
    Route("GET", "/api/orders/{id}/", get_order, "One order, by UUID or reference", roles=OWNER,
          responses={200: s.OrderOut}, errors=(401, 403, 404), tag="orders"),
    Route("PATCH", "/api/orders/{id}/", update_order, "Change status (any letter case) or add a note",
          roles=STAFF, body=s.OrderUpdate, responses={200: s.OrderOut}, errors=E, tag="orders"),
    Route("POST", "/api/orders/{id}/confirm/", confirm_order, "Confirm: reduce stock for every item, or none",
          roles=STAFF, responses={200: s.OrderOut}, errors=E, tag="orders"),
    Route("POST", "/api/orders/{id}/cancel/", cancel_order, "Cancel; restocks what a confirm took, once",
          roles=STAFF, body=s.CancelRequest, responses={200: s.OrderOut}, errors=E, tag="orders"),
    Route("GET", "/api/orders/{id}/messages/", order_messages, "The order's WhatsApp conversation, both ways",
          roles=STAFF, responses={200: list[s.MessageOut]}, errors=(401, 403, 404), tag="orders"),
    Route("GET", "/api/ledger/", list_ledger,
          "The shop's own ledger of money received (from its phone's texts), newest first; unmatched=true: "
          "money that paid no order", roles=STAFF, query=s.LedgerQuery, responses={200: s.LedgerPage},
          errors=(400, 401, 403), tag="ledger"),
    Route("POST", "/api/token/", obtain_token, "Sign in: username and password -> access and refresh tokens",
          body=s.TokenObtain, responses={200: s.TokenPair}, errors=(400, 401, 429), tag="accounts",
          in_transaction=False, bearer=False),
    Route("POST", "/api/token/refresh/", refresh_token, "A new access token for a live refresh token",
          body=s.TokenRefresh, responses={200: s.AccessToken}, errors=(400, 401), tag="accounts", bearer=False),
    Route("POST", "/api/auth/register/", register, "Create a buyer account and sign in",
          body=s.Register, responses={201: s.TokenPair}, errors=(400,), tag="accounts", in_transaction=False, bearer=False),
    Route("GET", "/api/auth/profile/", get_profile, "The signed-in account", roles=ANYONE_SIGNED_IN,
          responses={200: s.UserOut}, errors=(401, 403), tag="accounts"),
    Route("PATCH", "/api/auth/profile/", update_profile, "Change name, email or phone (a new phone is unverified)",
          roles=ANYONE_SIGNED_IN, body=s.ProfileUpdate, responses={200: s.UserOut}, errors=(400, 401, 403),
          tag="accounts"),
    Route("POST", "/api/auth/profile/phone/", link_phone,
          "A code to send as `link <code>` from the account's phone on WhatsApp, which verifies it",
          roles=ANYONE_SIGNED_IN, responses={200: s.PhoneLink}, errors=(400, 401, 403), tag="accounts"),
]
