"""Storefront accounts (CONTRACT §2 Accounts): sign-in, refresh, register, profile, roles, the lockout,
disabled accounts, and a phone trusted only once `link <code>` comes from it on WhatsApp."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import select

from core import accounts
from core.models import Account, SignInFailure
from tests.conftest import CUSTOMER_PHONE
from tests.helpers import make_product, order_body, place_order
from tests.problem_details import field_messages, problem_of
from webhooks.app import create_app

PASSWORD = "correct horse battery"
STRANGER_PHONE = "+254799000222"


async def make_user(uow, username: str, role: str = "buyer", *, phone: str | None = None,
                    password: str = PASSWORD) -> None:
    """As `orderdesk user create` makes one (a phone given there is verified)."""
    new = accounts.NewAccount(username=username, password=password, role=accounts.ROLES[role], phone=phone,
                              phone_verified=True)
    password_hash = await accounts.hash_for(accounts.Passwords(), uow.settings, new)
    async with uow() as tx:
        await accounts.create_account(tx, new, password_hash)
        await tx.commit()


async def sign_in(client, username: str, password: str = PASSWORD):
    return await client.post("/api/token/", json={"username": username, "password": password})


async def tokens_of(client, username: str, password: str = PASSWORD) -> dict:
    response = await sign_in(client, username, password)
    assert response.status == 200, await response.text()
    return await response.json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def register(client, username: str, **extra):
    return await client.post("/api/auth/register/", json={
        "username": username, "email": f"{username}@example.com", "password": PASSWORD,
        "password_confirm": PASSWORD, **extra})


@pytest.fixture
async def drf(aiohttp_client, settings, clock):
    return await aiohttp_client(create_app(settings.model_copy(update={"api_compat": "drf"}), clock=clock))


# --- signing in ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["native", "drf"])
async def test_an_admin_signs_in_as_simplejwt_answers_and_lists_orders(client, drf, uow, mode):
    await make_user(uow, "wanjiku", "admin")
    app = drf if mode == "drf" else client

    response = await sign_in(app, "wanjiku")

    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"access", "refresh", "user"}
    user = body["user"]
    assert {"id", "username", "email", "role", "first_name", "last_name"} <= user.keys()
    assert user["username"] == "wanjiku" and user["role"] == "admin"
    listed = await app.get("/api/orders/", headers=bearer(body["access"]))
    assert listed.status == 200, await listed.text()


async def test_roles_as_the_storefront_names_them_reach_what_their_role_may(client, uow):
    for name, role in (("amina", "admin"), ("sam", "seller"), ("bea", "buyer")):
        await make_user(uow, name, role)
    sessions = {name: (await tokens_of(client, name))["access"] for name in ("amina", "sam", "bea")}

    statuses = {name: (await client.get("/api/orders/", headers=bearer(access))).status
                for name, access in sessions.items()}
    mine = (await client.get("/api/orders/my-orders/", headers=bearer(sessions["bea"]))).status

    assert statuses == {"amina": 200, "sam": 200, "bea": 403} and mine == 200


async def test_a_wrong_password_and_an_unknown_username_are_the_same_401(client, uow):
    await make_user(uow, "wanjiku", "admin")

    wrong = await sign_in(client, "wanjiku", "not the password")
    unknown = await sign_in(client, "nobody", PASSWORD)

    first, second = await problem_of(wrong, 401), await problem_of(unknown, 401)
    assert first["detail"] == second["detail"]
    assert "access" not in first and "refresh" not in second


async def test_passwords_are_kept_only_as_argon2_hashes(client, uow):
    await make_user(uow, "wanjiku", "admin")

    async with uow() as tx:
        stored = (await tx.session.execute(select(Account.password_hash))).scalar_one()

    assert stored.startswith("$argon2id$") and PASSWORD not in stored


# --- refresh, expiry, tampering -------------------------------------------------------------------

async def test_an_expired_access_token_is_401_and_the_refresh_token_brings_a_working_one(client, uow, clock):
    await make_user(uow, "wanjiku", "admin")
    session = await tokens_of(client, "wanjiku")
    clock.advance(minutes=16)  # ACCESS_TOKEN_LIFETIME is 15m

    expired = await client.get("/api/orders/", headers=bearer(session["access"]))
    refreshed = await client.post("/api/token/refresh/", json={"refresh": session["refresh"]})

    problem = await problem_of(expired, 401)
    assert "expired" in problem["detail"]
    assert refreshed.status == 200, await refreshed.text()
    access = (await refreshed.json())["access"]
    assert set(await refreshed.json()) == {"access"}
    assert (await client.get("/api/orders/", headers=bearer(access))).status == 200


async def test_an_expired_refresh_token_is_401(client, uow, clock):
    await make_user(uow, "wanjiku", "admin")
    session = await tokens_of(client, "wanjiku")
    clock.advance(days=7, seconds=1)  # REFRESH_TOKEN_LIFETIME is 7d

    response = await client.post("/api/token/refresh/", json={"refresh": session["refresh"]})

    await problem_of(response, 401)


def _tampered(token: str) -> list[str]:
    claims = jwt.decode(token, options={"verify_signature": False})
    head, payload, signature = token.split(".")
    return [
        jwt.encode({**claims, "user_id": "someone-else"}, "a guessed key that is long enough to sign with", "HS256"),
        jwt.encode(claims, "a guessed key that is long enough to sign with", "HS256"),  # same claims, other key
        jwt.encode(claims, None, algorithm="none"),  # unsigned
        f"{head}.{payload}.{signature[:-4]}AAAA",  # signature changed
        f"{head}.{payload[:-2]}xx.{signature}",  # claims changed
        "not.a.jwt",
    ]


async def test_tampered_and_malformed_tokens_are_401_everywhere(client, uow):
    await make_user(uow, "wanjiku", "admin")
    session = await tokens_of(client, "wanjiku")

    for forged in _tampered(session["access"]):
        await problem_of(await client.get("/api/orders/", headers=bearer(forged)), 401)
    for forged in _tampered(session["refresh"]):
        await problem_of(await client.post("/api/token/refresh/", json={"refresh": forged}), 401)


async def test_an_access_token_does_not_refresh_and_a_refresh_token_does_not_authorise(client, uow):
    await make_user(uow, "wanjiku", "admin")
    session = await tokens_of(client, "wanjiku")

    refreshed_with_access = await client.post("/api/token/refresh/", json={"refresh": session["access"]})
    authorised_with_refresh = await client.get("/api/orders/", headers=bearer(session["refresh"]))

    await problem_of(refreshed_with_access, 401)
    await problem_of(authorised_with_refresh, 401)


async def test_an_expired_or_invalid_token_on_a_public_route_is_401_not_a_guest(client, uow, admin, clock):
    shirt = await make_product(client, admin)
    await make_user(uow, "bea", "buyer")
    session = await tokens_of(client, "bea")
    clock.advance(minutes=16)

    order = await client.post("/api/orders/", headers=bearer(session["access"]), json=order_body((shirt, 1)))
    products = await client.get("/api/products/", headers=bearer("od_not-a-real-token"))

    await problem_of(order, 401)
    await problem_of(products, 401)
    assert (await (await client.get("/api/orders/", headers=admin)).json())["count"] == 0  # no guest order either


async def test_a_stale_token_sent_to_sign_in_is_ignored(client, uow):
    await make_user(uow, "wanjiku", "admin")

    response = await client.post("/api/token/", headers=bearer("stale.expired.token"),
                                 json={"username": "wanjiku", "password": PASSWORD})

    assert response.status == 200, await response.text()


async def test_the_development_key_is_kept_in_the_database_so_every_process_reads_the_token(
        client, aiohttp_client, settings, clock, uow):
    await make_user(uow, "wanjiku", "admin")
    session = await tokens_of(client, "wanjiku")
    another_process = await aiohttp_client(create_app(settings, clock=clock))
    other_key = await aiohttp_client(create_app(settings.model_copy(update={"secret_key": "k" * 48}), clock=clock))

    assert (await another_process.get("/api/orders/", headers=bearer(session["access"]))).status == 200
    await problem_of(await other_key.get("/api/orders/", headers=bearer(session["access"])), 401)


# --- disabled accounts and the lockout ------------------------------------------------------------

async def test_disabling_an_account_ends_its_sessions_at_once(client, uow):
    await make_user(uow, "leaving-clerk", "seller")
    session = await tokens_of(client, "leaving-clerk")
    assert (await client.get("/api/orders/", headers=bearer(session["access"]))).status == 200

    async with uow() as tx:
        await accounts.disable_account(tx, "leaving-clerk")
        await tx.commit()

    await problem_of(await client.get("/api/orders/", headers=bearer(session["access"])), 401)
    await problem_of(await client.post("/api/token/refresh/", json={"refresh": session["refresh"]}), 401)
    await problem_of(await sign_in(client, "leaving-clerk"), 401)


async def test_ten_wrong_passwords_lock_sign_in_for_60_s_then_one_try_is_allowed(client, uow, clock):
    await make_user(uow, "wanjiku", "admin")
    for _ in range(10):
        await problem_of(await sign_in(client, "wanjiku", "guess"), 401)

    locked = await sign_in(client, "wanjiku")  # even the right password is not checked now
    clock.advance(seconds=61)
    one_more_wrong = await sign_in(client, "wanjiku", "guess")
    locked_again = await sign_in(client, "wanjiku")
    clock.advance(seconds=61)
    right = await sign_in(client, "wanjiku")
    counted_afresh = await sign_in(client, "wanjiku", "guess")

    await problem_of(locked, 429)
    assert locked.headers["Retry-After"] == "60"
    await problem_of(one_more_wrong, 401)
    await problem_of(locked_again, 429)
    assert right.status == 200, await right.text()
    await problem_of(counted_afresh, 401)


async def test_guesses_sent_all_at_once_are_counted_not_raced_past(client, uow):
    await make_user(uow, "wanjiku", "admin")

    answers = await asyncio.gather(*(sign_in(client, "wanjiku", f"guess {n}") for n in range(12)))
    right = await sign_in(client, "wanjiku")

    assert sorted(a.status for a in answers) == [401] * 10 + [429] * 2
    await problem_of(right, 429)


async def test_an_unknown_username_is_locked_out_like_a_real_one_so_the_lockout_tells_nobody_who_exists(
        client, uow):
    await make_user(uow, "wanjiku", "admin")
    for _ in range(10):
        await sign_in(client, "wanjiku", "guess")
        await sign_in(client, "nobody", "guess")

    real, made_up = await sign_in(client, "wanjiku", "guess"), await sign_in(client, "nobody", "guess")

    assert (real.status, real.headers["Retry-After"]) == (made_up.status, made_up.headers["Retry-After"]) == (429, "60")
    assert await real.json() == await made_up.json()


async def test_guesses_at_made_up_usernames_are_forgotten_after_15_minutes(client, uow, clock):
    for n in range(30):
        await sign_in(client, f"made-up-{n}", "guess")
    clock.advance(minutes=16)

    await sign_in(client, "one-more", "guess")

    async with uow() as tx:
        kept = (await tx.session.execute(select(SignInFailure.username))).scalars().all()
    assert kept == ["one-more"]


async def test_wrong_passwords_older_than_15_minutes_do_not_count(client, uow, clock):
    await make_user(uow, "wanjiku", "admin")
    for _ in range(9):
        await sign_in(client, "wanjiku", "guess")
    clock.advance(minutes=16)
    await sign_in(client, "wanjiku", "guess")

    response = await sign_in(client, "wanjiku")

    assert response.status == 200, await response.text()


# --- registration and profile -------------------------------------------------------------------

async def test_registration_makes_a_buyer_whatever_role_the_form_sends(client):
    response = await register(client, "bea", role="seller", shopname="Bea's", first_name="Bea")

    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["user"]["role"] == "buyer" and body["user"]["first_name"] == "Bea"
    await problem_of(await client.get("/api/orders/", headers=bearer(body["access"])), 403)


async def test_registration_refuses_a_taken_username_and_passwords_that_differ(client, uow):
    await make_user(uow, "bea")

    taken = await register(client, "bea")
    differ = await client.post("/api/auth/register/", json={
        "username": "tom", "email": "tom@example.com", "password": PASSWORD, "password_confirm": PASSWORD + "!"})
    short = await client.post("/api/auth/register/", json={
        "username": "tim", "email": "tim@example.com", "password": "short", "password_confirm": "short"})

    assert "username" in field_messages(await problem_of(taken, 400))
    assert "password_confirm" in field_messages(await problem_of(differ, 400))
    assert "password" in field_messages(await problem_of(short, 400))


async def test_the_profile_is_read_and_changed_and_an_api_token_has_none(client, admin):
    session = await (await register(client, "bea")).json()

    changed = await client.patch("/api/auth/profile/", headers=bearer(session["access"]),
                                 json={"first_name": "Bea", "last_name": "Otieno", "phone": "0712 345 678"})
    read = await client.get("/api/auth/profile/", headers=bearer(session["access"]))
    with_api_token = await client.get("/api/auth/profile/", headers=admin)

    assert changed.status == 200, await changed.text()
    profile = await read.json()
    assert (profile["first_name"], profile["last_name"], profile["phone"]) == ("Bea", "Otieno", CUSTOMER_PHONE)
    assert profile["phone_verified"] is False  # typed, not proven
    await problem_of(with_api_token, 403)


# --- orders of an account -----------------------------------------------------------------------

async def test_a_buyers_order_is_linked_to_the_account_and_in_its_my_orders(client, drf, admin):
    shirt = await make_product(client, admin)
    session = await (await register(client, "bea")).json()
    guest = await place_order(client, (shirt, 1), phone="0733 111 222")

    placed = await drf.post("/api/orders/", headers=bearer(session["access"]),
                            json=order_body((shirt, 1), phone="0722 000 111"))
    mine = await drf.get("/api/orders/my-orders/", headers=bearer(session["access"]))
    listed = await (await drf.get("/api/orders/", headers=admin)).json()

    assert placed.status == 201, await placed.text()
    order = await placed.json()
    assert order["user"] == session["user"]["id"]
    assert [o["id"] for o in await mine.json()] == [order["id"]]
    assert {o["id"]: o["user"] for o in listed} == {order["id"]: session["user"]["id"], guest["id"]: None}


async def test_a_buyer_cannot_read_another_buyers_order(client, admin):
    shirt = await make_product(client, admin)
    bea = await (await register(client, "bea")).json()
    tom = await (await register(client, "tom")).json()
    placed = await client.post("/api/orders/", headers=bearer(bea["access"]),
                               json=order_body((shirt, 1), phone="0722 000 111"))
    order = await placed.json()

    by_owner = await client.get(f"/api/orders/{order['id']}/", headers=bearer(bea["access"]))
    by_id = await client.get(f"/api/orders/{order['id']}/", headers=bearer(tom["access"]))
    by_reference = await client.get(f"/api/orders/{order['orderReference']}/", headers=bearer(tom["access"]))
    toms = await (await client.get("/api/orders/my-orders/", headers=bearer(tom["access"]))).json()
    confirm = await client.post(f"/api/orders/{order['id']}/confirm/", headers=bearer(tom["access"]))

    assert by_owner.status == 200
    for response in (by_id, by_reference):
        problem = await problem_of(response, 404)
        assert "Amina" not in str(problem) and "0722" not in str(problem) and "+254722000111" not in str(problem)
    assert toms["count"] == 0
    await problem_of(confirm, 403)


async def test_a_strangers_phone_opens_no_orders_until_link_comes_from_it(wa, twilio):
    client = wa.client
    admin = bearer((await tokens_of_admin(client)))
    shirt = await make_product(client, admin)
    theirs = await place_order(client, (shirt, 1), phone=CUSTOMER_PHONE)  # Amina's order
    eve = await (await register(client, "eve", phone=CUSTOMER_PHONE)).json()  # Eve types Amina's number
    eve_h = bearer(eve["access"])

    before = await (await client.get("/api/orders/my-orders/", headers=eve_h)).json()
    read_before = await client.get(f"/api/orders/{theirs['id']}/", headers=eve_h)
    link = await client.post("/api/auth/profile/phone/", headers=eve_h)
    assert link.status == 200, await link.text()
    code = (await link.json())["code"]
    await wa.say(f"link {code}", phone=STRANGER_PHONE)  # Eve's own phone: not the number on the account
    refused = await wa.replies_to(STRANGER_PHONE)
    still = await (await client.get("/api/orders/my-orders/", headers=eve_h)).json()

    assert before["count"] == 0 and still["count"] == 0
    await problem_of(read_before, 404)
    assert "another phone number" in refused[0]
    url = urlsplit((await link.json())["whatsappUrl"])
    assert url.netloc == "wa.me" and parse_qs(url.query)["text"] == [f"link {code}"]


async def test_link_from_the_accounts_phone_verifies_it_and_opens_its_orders(wa):
    client = wa.client
    admin = bearer((await tokens_of_admin(client)))
    shirt = await make_product(client, admin)
    earlier = await place_order(client, (shirt, 1), phone=CUSTOMER_PHONE)  # a guest order before signing up
    bea = await (await register(client, "bea", phone="0712 345 678")).json()
    headers = bearer(bea["access"])
    code = (await (await client.post("/api/auth/profile/phone/", headers=headers)).json())["code"]

    await wa.say(f"link {code.lower()}", phone=CUSTOMER_PHONE)

    [reply] = await wa.replies_to(CUSTOMER_PHONE)
    assert "linked" in reply and "bea" in reply
    mine = await (await client.get("/api/orders/my-orders/", headers=headers)).json()
    assert [o["id"] for o in mine["results"]] == [earlier["id"]]
    assert (await client.get(f"/api/orders/{earlier['id']}/", headers=headers)).status == 200
    profile = await (await client.get("/api/auth/profile/", headers=headers)).json()
    assert profile["phone_verified"] is True


async def test_a_link_code_works_for_15_minutes(wa, clock):
    client = wa.client
    bea = await (await register(client, "bea", phone=CUSTOMER_PHONE)).json()
    headers = bearer(bea["access"])
    code = (await (await client.post("/api/auth/profile/phone/", headers=headers)).json())["code"]
    clock.advance(minutes=16)
    refreshed = await (await client.post("/api/token/refresh/", json={"refresh": bea["refresh"]})).json()

    await wa.say(f"link {code}", phone=CUSTOMER_PHONE)

    [reply] = await wa.replies_to(CUSTOMER_PHONE)
    assert "expired" in reply
    profile = await (await client.get("/api/auth/profile/", headers=bearer(refreshed["access"]))).json()
    assert profile["phone_verified"] is False


async def test_changing_the_phone_drops_the_trust_in_the_old_one(client, uow, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1), phone=CUSTOMER_PHONE)
    await make_user(uow, "bea", phone=CUSTOMER_PHONE)  # verified: the shop vouched for it
    headers = bearer((await tokens_of(client, "bea"))["access"])
    before = await (await client.get("/api/orders/my-orders/", headers=headers)).json()

    changed = await (await client.patch("/api/auth/profile/", headers=headers, json={"phone": STRANGER_PHONE})).json()
    after = await (await client.get("/api/orders/my-orders/", headers=headers)).json()

    assert [o["id"] for o in before["results"]] == [order["id"]]
    assert changed["phone"] == STRANGER_PHONE and changed["phone_verified"] is False
    assert after["count"] == 0


async def test_a_question_that_starts_with_link_is_relayed_not_taken_for_a_code(wa):
    await wa.say("link to the blue shirt please?", phone=CUSTOMER_PHONE)

    [reply] = await wa.replies_to(CUSTOMER_PHONE)
    assert "code" not in reply and "answer you" in reply


async def tokens_of_admin(client) -> str:
    """An admin API token, made on the app's own database."""
    from core.tokens import Role, create_token
    from webhooks import keys

    async with client.app[keys.UOW]() as tx:
        secret = await create_token(tx, name="till", role=Role.ADMIN)
        await tx.commit()
    return secret


# --- the commands ---------------------------------------------------------------------------------

def orderdesk(db_url: str, cwd, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "ORDERDESK_ENV")}
    env.update(DATABASE_URL=db_url, DEFAULT_REGION="KE")
    return subprocess.run([sys.executable, "-m", "orderdesk", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def test_user_create_and_disable_as_the_shop_owner_runs_them(client, db_url, tmp_path):
    made = orderdesk(db_url, tmp_path, "user", "create", "--username", "wanjiku", "--role", "admin",
                     "--phone", "0712 345 678", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    session = await tokens_of(client, "wanjiku")
    assert session["user"]["role"] == "admin" and session["user"]["phone_verified"] is True
    again = orderdesk(db_url, tmp_path, "user", "create", "--username", "wanjiku", "--role", "buyer",
                      "--password-stdin", stdin=PASSWORD + "\n")

    disabled = orderdesk(db_url, tmp_path, "user", "disable", "wanjiku")

    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1 and "already exists" in again.stderr
    assert disabled.returncode == 0, disabled.stderr
    await problem_of(await client.get("/api/orders/", headers=bearer(session["access"])), 401)


def test_serve_in_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PORT")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}", ORDERDESK_ENV="production",
               TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="x" * 32, ADMIN_PHONES="+254700000001")

    done = subprocess.run([sys.executable, "-m", "orderdesk", "serve", "--port", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert done.stderr.strip() == "ORDERDESK_ENV=production needs SECRET_KEY; refusing to start."
