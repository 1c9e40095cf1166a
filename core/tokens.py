"""API tokens: random, shown once, stored as a SHA-256 hash, bound to a role (and a phone for customers)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, select

from core.errors import InvalidField, NotFound
from core.models import ApiToken
from core.phones import to_e164


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    CUSTOMER = "customer"


STAFF_ROLES = frozenset({Role.ADMIN, Role.STAFF})


@dataclass(frozen=True, slots=True)
class Bearer:
    """Who is calling: an API token (`account_id` None) or a signed-in account (core/accounts.py).
    `phone` is the token's phone, or the account's verified one."""

    name: str
    role: str
    phone: str | None
    account_id: str | None = None

    @property
    def actor(self) -> str:
        return f"account:{self.name}" if self.account_id else f"token:{self.name}"


_tokens = ApiToken.__table__
LIVE_TOKEN = select(_tokens.c.name, _tokens.c.role, _tokens.c.phone).where(
    _tokens.c.token_hash == bindparam("token_hash"), _tokens.c.revoked_at.is_(None))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(uow, *, name: str, role: Role, phone: str | None = None) -> str:
    if role == Role.CUSTOMER and not phone:
        raise InvalidField("phone", "", "a customer token needs --phone")
    if await uow.session.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))):
        raise InvalidField("name", name, f"a token named {name!r} exists; revoke it or pick another name")
    token = "od_" + secrets.token_urlsafe(32)
    uow.session.add(ApiToken(name=name, role=role.value, token_hash=_hash(token), created_at=uow.now(),
                             phone=to_e164(phone, uow.settings.default_region, "phone") if phone else None))
    return token


async def revoke_token(uow, name: str) -> None:
    row = await uow.session.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    if row is None:
        raise NotFound("active token", name)
    row.revoked_at = uow.now()


async def list_tokens(uow) -> list[ApiToken]:
    """The live tokens, oldest first (their hashes only: a token is shown once, when it is made)."""
    return list((await uow.session.execute(
        select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id))).scalars())


async def authenticate(uow, token: str) -> Bearer | None:
    """The live token as a Bearer, or None. Read on every request, never cached: a token revoked
    from the CLI or by another process stops working at once."""
    row = (await uow.execute(LIVE_TOKEN, {"token_hash": _hash(token)})).first()
    return None if row is None else Bearer(row.name, row.role, row.phone)
