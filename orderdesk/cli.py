"""`orderdesk` command line (CONTRACT §1)."""
from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import os
import sys

from pydantic import ValidationError

from core.settings import Settings, problems
from orderdesk import database, logs

log = logging.getLogger("orderdesk")

# A request allocates thousands of short-lived objects, so at CPython's default threshold (700) the
# young generation is collected many times per request. At 50,000 the server answers about 15 % more
# webhooks with a third of the worst pauses (docs/performance.md); memory stays where it was.
COLLECT_THRESHOLDS = (50_000, 20, 100)


def _uow(settings: Settings):
    from core.db import make_engine, make_sessionmaker
    from core.uow import UnitOfWork

    engine = make_engine(settings.database_url)
    return engine, UnitOfWork(make_sessionmaker(engine), settings)


async def _in_transaction(settings: Settings, operation):
    engine, uow = _uow(settings)
    try:
        async with uow() as tx:
            result = await operation(tx)
            await tx.commit()
        return result
    finally:
        await engine.dispose()


def _refuse(problem: str | None) -> int | None:
    if problem is None:
        return None
    print(problem, file=sys.stderr)
    return 2


def cmd_serve(args, settings: Settings) -> int:
    from aiohttp import web

    from webhooks.app import create_app

    if settings.orderdesk_env == "production":
        missing = [n for n, v in (("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                                  ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                                  ("ADMIN_PHONES", settings.admin_phones),
                                  ("SECRET_KEY", settings.secret_key)) if not v]
        if missing:
            print(f"ORDERDESK_ENV=production needs {' and '.join(missing)}; refusing to start.", file=sys.stderr)
            return 2
    refused = _refuse(asyncio.run(database.problem(settings, wait_s=database.WAIT_S)) or database.sole_server(settings))
    if refused is not None:
        return refused
    try:
        import uvloop  # a faster event loop (docs/performance.md); asyncio's own behaves the same
    except ImportError:  # not built for this platform
        loop = None
    else:
        loop = uvloop.new_event_loop()
    app = create_app(settings)
    gc.freeze()  # what start-up built lives as long as the process: no collection needs to look at it
    gc.set_threshold(*COLLECT_THRESHOLDS)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{args.port}"
    try:
        web.run_app(app, host=args.host, port=args.port, access_log=None, handle_signals=True,
                    loop=loop, print=lambda _: log.info("orderdesk serves %s (listening on %s:%d, %s)", url,
                                                         args.host, args.port, settings.orderdesk_env))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"port {args.port} on {args.host} is in use (another orderdesk serve?): stop that process, "
              "or choose another with --port", file=sys.stderr)
        return 2
    return 0


def cmd_db(args, settings: Settings) -> int:
    from core.migrate import MigrationStopped, upgrade

    if args.db_command == "upgrade":
        try:
            before = asyncio.run(database.revision(settings))
            upgrade(settings.database_url)
            after = asyncio.run(database.revision(settings))
        except MigrationStopped as stopped:
            print(f"database upgrade stopped: {stopped}", file=sys.stderr)
            return 1
        except Exception as exc:  # the database cannot be reached or written: one line, what to check
            print(f"cannot upgrade the database: {database.in_one_line(exc)}; check DATABASE_URL", file=sys.stderr)
            return 2
        print(f"database created at revision {after}" if before is None
              else f"database upgraded from revision {before} to {after}" if before != after
              else f"database is up to date (revision {after})")
        return 0
    if args.db_command == "backup":
        return database.backup(settings, args.path)
    return 2


def cmd_token(args, settings: Settings) -> int:
    from core import tokens
    from core.errors import DomainError

    try:
        if args.token_command == "create":
            secret = asyncio.run(_in_transaction(settings, lambda tx: tokens.create_token(
                tx, name=args.name, role=tokens.Role(args.role), phone=args.phone)))
            print(f"created {args.role} token {args.name!r}; it is shown once:")
            print(secret)
        elif args.token_command == "list":
            rows = asyncio.run(_in_transaction(settings, tokens.list_tokens))
            for t in rows:
                print(f"{t.name:<24} {t.role:<9} {t.phone or '-':<16} created {t.created_at:%Y-%m-%d %H:%M}")
            if not rows:
                print("no tokens; make one with: orderdesk token create --role admin --name NAME")
        else:
            asyncio.run(_in_transaction(settings, lambda tx: tokens.revoke_token(tx, args.name)))
            print(f"revoked {args.name!r}")
    except DomainError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def cmd_user(args, settings: Settings) -> int:
    """`user create`: a storefront account (its password asked twice, or read from --password-stdin);
    `user disable`: no more sign-ins, and every session of it ends now."""
    from core import accounts
    from core.errors import DomainError

    try:
        if args.user_command == "create":
            password = _read_password(args.password_stdin)
            if password is None:
                return 1
            new = accounts.NewAccount(username=args.username, password=password, role=accounts.ROLES[args.role],
                                      email=args.email or "", phone=args.phone, phone_verified=True)

            async def create():
                password_hash = await accounts.hash_for(accounts.Passwords(), settings, new)
                return await _in_transaction(settings, lambda tx: accounts.create_account(tx, new, password_hash))

            account = asyncio.run(create())
            phone = f", phone {account.verified_phone} (verified)" if account.verified_phone else ""
            print(f"created {args.role} account {account.username!r}{phone}")
        else:
            asyncio.run(_in_transaction(settings, lambda tx: accounts.disable_account(tx, args.username)))
            print(f"disabled {args.username!r}; its sessions have ended")
    except DomainError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


MIN_PASSWORD = 8


def _read_password(from_stdin: bool) -> str | None:
    """The new account's password, or None after saying (one line) why there is none."""
    import getpass

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ; nothing created", file=sys.stderr)
            return None
    if len(password) < MIN_PASSWORD:
        print(f"the password needs at least {MIN_PASSWORD} characters; nothing created", file=sys.stderr)
        return None
    return password


def cmd_seed_demo(args, settings: Settings) -> int:
    from core import catalog

    async def seed(tx):
        if args.if_empty and await catalog.has_products(tx):
            return 0
        return await catalog.seed_demo(tx)

    added = asyncio.run(_in_transaction(settings, seed))
    if args.if_empty and not added:
        print("the catalog has products already; demo catalog not loaded")
        return 0
    print(f"demo catalog: {added} product(s) added, {len(catalog.DEMO_CATALOG) - added} already there")
    return 0


def cmd_catalog(args, settings: Settings) -> int:
    from orderdesk import catalog_import

    return asyncio.run(catalog_import.run(settings, args.source, args.stock))


def cmd_jobs(args, settings: Settings) -> int:
    from orderdesk import operate

    return asyncio.run(operate.jobs(settings))


def cmd_outbox(args, settings: Settings) -> int:
    from orderdesk import operate

    if args.outbox_command == "list":
        return asyncio.run(operate.outbox_list(settings, args.failed))
    if args.target == "--failed" or args.failed:
        return asyncio.run(operate.outbox_retry(settings, None))
    if not (args.target or "").isdigit():
        print("outbox retry takes a message id (see outbox list) or --failed", file=sys.stderr)
        return 2
    return asyncio.run(operate.outbox_retry(settings, int(args.target)))


def cmd_doctor(args, settings: Settings) -> int:
    from orderdesk import operate

    return asyncio.run(operate.doctor(settings))


def cmd_chat(args, settings: Settings) -> int:
    from orderdesk.chat import chat

    return asyncio.run(chat(settings, args.phone, args.url))


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (e.g. 8080)")
    return int(value)


# Commands that read or write the shop's database, and refuse one that is missing or behind the code
# (serve checks for itself, waiting for the database a while; doctor reports; db upgrade creates).
USES_DATABASE = (cmd_token, cmd_user, cmd_seed_demo, cmd_catalog, cmd_jobs, cmd_outbox, cmd_chat)


ROLE_CHOICES = ("admin", "seller", "buyer")  # as the storefront names them (core/accounts.py ROLES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orderdesk", description="WhatsApp order intake for small shops.",
        epilog="Settings come from the environment and from a .env file in the working directory "
               "(DATABASE_URL, TWILIO_*, ADMIN_PHONES, ...; see the README). Start with: orderdesk db upgrade, "
               "then orderdesk doctor.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="HTTP API, webhooks, outbound sender and jobs in one process")
    # On a platform that hands out $PORT (Heroku and the like) the router reaches us from outside.
    serve.add_argument("--host", default="0.0.0.0" if os.environ.get("PORT") else "127.0.0.1",
                       help="default 127.0.0.1, or 0.0.0.0 when $PORT is set")
    # A string default goes through type= too, so a bad $PORT is one line, as a bad --port is.
    serve.add_argument("--port", type=_port, default=os.environ.get("PORT") or "8080",
                       help="default $PORT when it is set (Heroku and the like), else 8080")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema and backups")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="create the database or apply the migrations it lacks (safe to run "
                                      "twice; Heroku's release step)")
    backup = db_sub.add_parser("backup", help="online copy of a SQLite database, safe while serving; prints the "
                                              "rows it kept (PostgreSQL: use pg_dump)")
    backup.add_argument("path", help="the file to write, in a directory that exists")
    db.set_defaults(func=cmd_db)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token; printed alone on the last line")
    create.add_argument("--role", required=True, choices=["admin", "staff", "customer"],
                        help="admin: everything; staff: orders and stock; customer: the orders of --phone")
    create.add_argument("--name", required=True, help="who or what uses it (unique among live tokens)")
    create.add_argument("--phone", help="the customer's WhatsApp number (E.164, or as written in DEFAULT_REGION)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by name; it stops working at once")
    revoke.add_argument("name")
    token_sub.add_parser("list", help="the live tokens' names, roles and phones (never the tokens)")
    token.set_defaults(func=cmd_token)

    user = sub.add_parser("user", help="storefront sign-in accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    make = user_sub.add_parser("create", help="create an account; the password is asked for (twice)")
    make.add_argument("--username", required=True)
    make.add_argument("--role", required=True, choices=list(ROLE_CHOICES),
                      help="admin: everything; seller: orders and stock (staff); buyer: their own orders (customer)")
    make.add_argument("--phone", help="their WhatsApp number, trusted as verified (E.164, or as written in "
                                      "DEFAULT_REGION)")
    make.add_argument("--email", help="their email address")
    make.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    stop = user_sub.add_parser("disable", help="no more sign-ins; every session of the account ends at once")
    stop.add_argument("username")
    user.set_defaults(func=cmd_user)

    seed = sub.add_parser("seed-demo", help="load the demo catalog (idempotent)")
    seed.add_argument("--if-empty", action="store_true", help="only when the catalog has no products at all")
    seed.set_defaults(func=cmd_seed_demo)

    catalog = sub.add_parser("catalog", help="the product catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    load = catalog_sub.add_parser("import", help="move a catalog in (the old storefront's JSON or CSV), ids kept")
    load.add_argument("source", metavar="FILE|URL")
    load.add_argument("--stock", action="store_true", help="also set the stock of products already here")
    catalog.set_defaults(func=cmd_catalog)

    jobs = sub.add_parser("jobs", help="the scheduled jobs (reminders, expiry, digest), their next run and "
                                       "last result")
    jobs.set_defaults(func=cmd_jobs)

    box = sub.add_parser("outbox", help="outbound messages that did not go out")
    box_sub = box.add_subparsers(dest="outbox_command", required=True)
    listing = box_sub.add_parser("list", help="messages waiting or failed")
    listing.add_argument("--failed", action="store_true", help="failed ones only")
    again = box_sub.add_parser("retry", help="send again: a message id, or --failed for all failed")
    again.add_argument("target", nargs="?", metavar="ID", help="a message id from outbox list")
    again.add_argument("--failed", action="store_true", help="every failed or undelivered message")
    box.set_defaults(func=cmd_outbox)

    doctor = sub.add_parser("doctor", help="check the database, its migrations and Twilio's answer to the "
                                           "credentials; print the webhook URLs to paste into Twilio; exit 1 "
                                           "when something must be fixed")
    doctor.set_defaults(func=cmd_doctor)

    chat = sub.add_parser("chat", help="play a WhatsApp user against a running server")
    chat.add_argument("--phone", required=True, help="the WhatsApp number you play, E.164")
    chat.add_argument("--url", help="the server (default PUBLIC_BASE_URL)")
    chat.set_defaults(func=cmd_chat)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in problems(exc):
            print(line, file=sys.stderr)
        return 2
    logs.configure(settings)
    if args.func in USES_DATABASE:
        refused = _refuse(asyncio.run(database.problem(settings)))
        if refused is not None:
            return refused
    return args.func(args, settings)
