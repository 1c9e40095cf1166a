"""Storefront accounts (CONTRACT §2 Accounts): sign-in with a password, SimpleJWT-style tokens, roles
as the storefront names them, a phone trusted only once proven from WhatsApp.

- Passwords: Argon2 (argon2-cffi), hashed in a worker thread, at most `HASHES_AT_ONCE` at a time
  (each takes 64 MiB), never on the event loop.
- Tokens: JWTs signed HS256 with SECRET_KEY (PyJWT). A refresh token's `jti` is a row of
  `account_sessions`; an access token names that session (`sid`). Each request reads the account
  and its session in one indexed query (`authenticate`), so disabling an account or revoking a
  session ends both tokens at once, in every process.
- Expiry is checked against the injected clock (`uow.now()`), so tests move time instead of sleeping.
"""
from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.db import insert_unless_taken, lock_name
from core.errors import (Forbidden, InvalidField, LinkRefused, NotFound, SignInLocked, SignInRefused,
                         TokenRefused)
from core.models import Account, AccountSession, AppSecret, SignInFailure, new_id
from core.phones import to_e164
from core.tokens import Bearer, Role

# The storefront's role names and orderdesk's.
ROLES = {"admin": Role.ADMIN, "seller": Role.STAFF, "buyer": Role.CUSTOMER}
ROLE_NAMES = {role: name for name, role in ROLES.items()}

HASHES_AT_ONCE = 2
MAX_WRONG = 10  # wrong passwords for one username ...
WRONG_WINDOW = timedelta(minutes=15)  # ... within this long lock it ...
LOCKOUT = timedelta(seconds=60)  # ... for this long; then one try: a wrong one locks it again
LINK_LIFETIME = timedelta(minutes=15)
LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: people copy it by eye too
LINK_CODE_LENGTH = 8
ALGORITHM = "HS256"
SECRET_NAME = "token_signing_key"

accounts_t, sessions_t, secrets_t = Account.__table__, AccountSession.__table__, AppSecret.__table__
failures_t = SignInFailure.__table__
# The one read behind every account request: the account, live, and its session, live; both by key.
LIVE_SESSION = (select(accounts_t.c.id, accounts_t.c.username, accounts_t.c.role, accounts_t.c.verified_phone,
                       sessions_t.c.expires_at)
                .select_from(accounts_t.join(sessions_t, sessions_t.c.account_id == accounts_t.c.id))
                .where(accounts_t.c.id == bindparam("account_id"), sessions_t.c.id == bindparam("session_id"),
                       accounts_t.c.disabled_at.is_(None), sessions_t.c.revoked_at.is_(None)))
STORED_SECRET = select(secrets_t.c.value).where(secrets_t.c.name == SECRET_NAME)


# --- passwords --------------------------------------------------------------------------------

class Passwords:
    """Argon2 hashing off the event loop, a few at a time. One per process (the app, a command)."""

    def __init__(self, at_once: int = HASHES_AT_ONCE, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._gate = asyncio.Semaphore(at_once)
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._gate:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`. With no `stored` (no such account) a decoy hash is
        checked all the same, so a wrong username takes as long as a wrong password."""
        if stored is None:
            self._decoy = self._decoy or await self.hash(secrets.token_urlsafe(16))
        async with self._gate:
            return await asyncio.to_thread(self._check, stored or self._decoy, password) and stored is not None

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


# --- tokens -----------------------------------------------------------------------------------

@dataclass
class Issued:
    access: str
    refresh: str
    account: Account


class Tokens:
    """Signs and reads account tokens. The key is SECRET_KEY, else (development) a random one kept in
    the database, made by the first sign-in and shared by every process of that database."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._key: str | None = settings.secret_key

    async def key(self, tx, *, create: bool) -> str | None:
        if self._key is None:
            value = await tx.scalar(STORED_SECRET)
            if value is None and create:
                await tx.execute(insert_unless_taken(tx.conn, secrets_t, ("name",)),
                                 {"name": SECRET_NAME, "value": secrets.token_urlsafe(48), "created_at": tx.now()})
                value = await tx.scalar(STORED_SECRET)
            self._key = value
        return self._key

    async def issue(self, tx, account_id: str, session_id: str) -> str:
        """An access token for the session."""
        now = tx.now()
        return self._sign(await self.key(tx, create=True), "access", account_id, now,
                          now + self.settings.access_token_lifetime, jti=new_id(), sid=session_id)

    async def issue_refresh(self, tx, account_id: str, session: AccountSession) -> str:
        return self._sign(await self.key(tx, create=True), "refresh", account_id, session.created_at,
                          session.expires_at, jti=session.id)

    async def read(self, tx, token: str, kind: str) -> dict:
        """The claims of a live token of this kind (`access` or `refresh`). Raises TokenRefused."""
        key = await self.key(tx, create=False)
        if key is None:  # no token was ever signed here
            raise TokenRefused()
        try:
            # Times are checked below against the injected clock, not PyJWT's wall clock.
            claims = jwt.decode(token, key, algorithms=[ALGORITHM],
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["exp", "jti", "user_id", "token_type"]})
        except jwt.InvalidTokenError:
            raise TokenRefused() from None
        if claims["token_type"] != kind:
            raise TokenRefused(f"This is not an {kind} token." if kind == "access" else f"This is not a {kind} token.")
        if not isinstance(claims["exp"], (int, float)) or claims["exp"] <= tx.now().timestamp():
            raise TokenRefused("The token has expired.")
        return claims

    @staticmethod
    def _sign(key: str, kind: str, account_id: str, issued: datetime, expires: datetime, **claims) -> str:
        payload = {"token_type": kind, "user_id": account_id, "iat": math.floor(issued.timestamp()),
                   "exp": math.floor(expires.timestamp()), **claims}
        return jwt.encode(payload, key, algorithm=ALGORITHM)


def looks_like_jwt(secret: str) -> bool:
    """Account tokens are JWTs (three dot-separated parts); API tokens (`od_...`) have no dot."""
    return secret.count(".") == 2


async def authenticate(tx, tokens: Tokens, secret: str) -> Bearer:
    """The account behind an access token, checked against the database now. Raises TokenRefused."""
    claims = await tokens.read(tx, secret, "access")
    row = (await tx.execute(LIVE_SESSION, {"account_id": str(claims["user_id"]),
                                           "session_id": str(claims.get("sid"))})).first()
    if row is None:
        raise TokenRefused("The session has ended (signed out, or the account was disabled).")
    return Bearer(row.username, row.role, row.verified_phone, row.id)


# --- signing in -------------------------------------------------------------------------------

async def sign_in(uow, passwords: Passwords, tokens: Tokens, username: str, password: str) -> Issued:
    """A new session for the account, or SignInRefused (wrong pair, disabled) / SignInLocked. Opens its
    own units of work: the password is checked between them, outside any transaction. Wrong passwords
    are counted per username, whether an account has it or not, so a lockout tells nobody which
    usernames exist."""
    async with uow(readonly=True) as tx:
        account = await _by_username(tx, username)
        _refuse_while_locked(await tx.session.get(SignInFailure, username), tx.now())
    good = await passwords.verify(account.password_hash if account else None, password)
    async with uow() as tx:
        # Under a lock on the username: guesses sent all at once passed the first check together,
        # and those verified after the one that locked it learn nothing, right or wrong.
        await lock_name(tx.session, f"sign-in:{username}")
        now = tx.now()
        failures = await tx.session.get(SignInFailure, username, populate_existing=True)
        _refuse_while_locked(failures, now)
        if not good:
            await _count_wrong(tx, failures, username, now)
            await tx.commit()
            raise SignInRefused()
        account = await tx.session.get(Account, account.id, populate_existing=True)
        if account.disabled_at is not None:
            raise SignInRefused()
        if failures is not None:
            await tx.session.delete(failures)
        issued = await _new_session(tx, tokens, account)
        await tx.commit()
    return issued


def _refuse_while_locked(failures: SignInFailure | None, now: datetime) -> None:
    if failures is not None and failures.locked_until is not None and now < failures.locked_until:
        raise SignInLocked(max(1, math.ceil((failures.locked_until - now).total_seconds())))


async def _count_wrong(tx, failures: SignInFailure | None, username: str, now: datetime) -> None:
    if failures is None:
        # A new username to count: first forget those whose window and lockout are over, so guesses
        # at made-up usernames keep at most 15 minutes' worth of rows.
        await tx.execute(delete(failures_t).where(failures_t.c.first_failed_at < now - WRONG_WINDOW,
                                                  or_(failures_t.c.locked_until.is_(None),
                                                      failures_t.c.locked_until <= now)))
        failures = SignInFailure(username=username, count=0, first_failed_at=now)
        tx.session.add(failures)
    elif now - failures.first_failed_at > WRONG_WINDOW:
        failures.count, failures.first_failed_at = 0, now
    failures.count += 1
    if failures.count >= MAX_WRONG:
        failures.locked_until = now + LOCKOUT


async def _new_session(tx, tokens: Tokens, account: Account) -> Issued:
    now = tx.now()
    session = AccountSession(id=new_id(), account_id=account.id, created_at=now,
                             expires_at=now + tokens.settings.refresh_token_lifetime)
    tx.session.add(session)
    await tx.flush()
    return Issued(await tokens.issue(tx, account.id, session.id), await tokens.issue_refresh(tx, account.id, session),
                  account)


async def refresh(tx, tokens: Tokens, token: str) -> str:
    """A new access token for a live refresh token's session. Raises TokenRefused."""
    claims = await tokens.read(tx, token, "refresh")
    row = (await tx.execute(LIVE_SESSION, {"account_id": str(claims["user_id"]),
                                           "session_id": str(claims["jti"])})).first()
    if row is None or row.expires_at <= tx.now():
        raise TokenRefused("The session has ended (signed out, or the account was disabled).")
    return await tokens.issue(tx, row.id, str(claims["jti"]))


# --- accounts ---------------------------------------------------------------------------------

@dataclass
class NewAccount:
    username: str
    password: str
    role: Role = Role.CUSTOMER
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    phone_verified: bool = False  # `orderdesk user create --phone`: the shop vouches for it


async def hash_for(passwords: Passwords, settings, new: NewAccount) -> str:
    """The password's hash, made before any transaction opens (it takes a while); a bad phone is
    refused first, since that costs nothing."""
    if new.phone:
        to_e164(new.phone, settings.default_region, "phone")
    return await passwords.hash(new.password)


async def create_account(uow, new: NewAccount, password_hash: str) -> Account:
    """The account, in `uow`'s transaction (the caller commits). Raises InvalidField for a taken
    username or a phone that is not one."""
    phone = to_e164(new.phone, uow.settings.default_region, "phone") if new.phone else None
    now = uow.now()
    account = Account(id=new_id(), username=new.username, email=new.email, first_name=new.first_name,
                      last_name=new.last_name, role=new.role.value, password_hash=password_hash, phone=phone,
                      verified_phone=phone if new.phone_verified else None, failed_sign_ins=0,
                      created_at=now, updated_at=now)
    if await _by_username(uow, new.username) is not None:
        raise _taken(new.username)
    try:
        async with uow.session.begin_nested():
            uow.session.add(account)
    except IntegrityError:  # taken meanwhile
        raise _taken(new.username) from None
    return account


def _taken(username: str) -> InvalidField:
    return InvalidField("username", username, "a user with that username already exists")


async def register(uow, passwords: Passwords, tokens: Tokens, new: NewAccount) -> Issued:
    """A buyer's own account and its first session. Opens its own unit of work, after hashing."""
    new = NewAccount(**{**new.__dict__, "role": Role.CUSTOMER, "phone_verified": False})
    password_hash = await hash_for(passwords, uow.settings, new)
    async with uow() as tx:
        account = await create_account(tx, new, password_hash)
        issued = await _new_session(tx, tokens, account)
        await tx.commit()
    return issued


async def get_account(tx, bearer: Bearer) -> Account:
    """The caller's account. Raises Forbidden for an API token (it has no account)."""
    if bearer.account_id is None:
        raise Forbidden("This is an API token; the profile belongs to a signed-in account.")
    account = await tx.session.get(Account, bearer.account_id)
    if account is None:  # pragma: no cover - authenticate read it a moment ago
        raise NotFound("account", bearer.account_id)
    return account


async def update_profile(tx, bearer: Bearer, **changes) -> Account:
    """`first_name`, `last_name`, `email`, `phone` (None or "" clears it). A new phone is not trusted
    until `link <code>` comes from it; a pending code goes."""
    account = await get_account(tx, bearer)
    if "phone" in changes:
        raw = changes.pop("phone")
        phone = to_e164(raw, tx.settings.default_region, "phone") if raw else None
        if phone != account.phone:
            account.phone = phone
            account.verified_phone = phone if phone and phone == account.verified_phone else None
            account.link_code = account.link_expires_at = None
    for name, value in changes.items():
        setattr(account, name, value)
    account.updated_at = tx.now()
    return account


async def start_phone_link(tx, bearer: Bearer) -> tuple[Account, str]:
    """A code for `link <code>`, good for LINK_LIFETIME from the account's phone. Raises InvalidField
    when the account has no phone yet."""
    account = await get_account(tx, bearer)
    if not account.phone:
        raise InvalidField("phone", "", "set a phone in your profile first (PATCH /api/auth/profile/)")
    account.link_code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    account.link_expires_at = tx.now() + LINK_LIFETIME
    return account, account.link_code


async def verify_phone(tx, code: str, phone: str) -> Account:
    """`link <code>` from `phone` on WhatsApp: the account that asked for the code now owns the
    orders of that phone. Raises LinkRefused."""
    code = code.strip().upper()
    account = None
    if code:
        account = (await tx.session.execute(select(Account).where(Account.link_code == code))).scalar_one_or_none()
    if account is None or account.link_expires_at is None or account.link_expires_at <= tx.now():
        raise LinkRefused("unknown")
    if account.phone != phone:
        raise LinkRefused("other_phone")
    account.verified_phone, account.link_code, account.link_expires_at = phone, None, None
    account.updated_at = tx.now()
    return account


async def disable_account(tx, username: str) -> Account:
    """No more sign-ins, and every session ends now. Raises NotFound."""
    account = await _by_username(tx, username)
    if account is None:
        raise NotFound("account", username)
    now = tx.now()
    account.disabled_at = account.disabled_at or now
    await tx.execute(update(sessions_t).where(sessions_t.c.account_id == account.id, sessions_t.c.revoked_at.is_(None))
                     .values(revoked_at=now))
    return account


async def _by_username(tx, username: str) -> Account | None:
    return (await tx.session.execute(select(Account).where(Account.username == username))).scalar_one_or_none()

