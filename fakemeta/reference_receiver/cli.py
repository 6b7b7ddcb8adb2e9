"""`fakemeta receiver ...`: run, migrate and administer the reference receiver.

The lead's `fakemeta.simulator.cli:main` mounts the `receiver` group. Configuration
problems (a missing variable, an unreachable database) print one line to
stderr and exit 2, like click's own usage errors.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any, TypeVar

import click
from cryptography.fernet import InvalidToken
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from .accounts import AccountExists, add_account, rotate_tokens
from .config import ConfigError, Settings, load_settings
from .crypto import TokenCipher
from .db import create_db_engine, make_session_factory, migrate
from .models import Client, IntegrationAccount, IntegrationLog

__all__ = ["receiver"]

F = TypeVar("F", bound=Callable[..., Any])
_DIGITS = re.compile(r"\d{1,32}")


class ReceiverUsageError(click.ClickException):
    """Printed as one `Error: ...` line; exit status 2 (configuration or usage)."""

    exit_code = 2


def _one_line_errors(function: F) -> F:
    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ConfigError as error:
            raise ReceiverUsageError(str(error)) from None
        except (OperationalError, ProgrammingError) as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise ReceiverUsageError(
                f"database error: {reason} (check DATABASE_URL; run `fakemeta receiver migrate`)"
            ) from None

    return wrapper  # type: ignore[return-value]


def _digits(_ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = value.strip().removeprefix("+")
    if not _DIGITS.fullmatch(value):
        raise click.BadParameter(f"{value!r} must be digits only", param=param)
    return value


def _settings() -> Settings:
    return load_settings()


@click.group("receiver")
def receiver() -> None:
    """The reference receiver: a WhatsApp webhook for a small CRM (Flask + SQLAlchemy).

    Configuration comes from the environment and .env: META_CLIENT_SECRET,
    META_WEBHOOK_VERIFY_TOKEN, INTEGRATION_ENCRYPTION_KEY, DATABASE_URL, ...
    """


@receiver.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--migrate/--no-migrate", "run_migrations", default=True, show_default=True)
@click.option("--debug", is_flag=True, help="Flask debug mode (reloader, tracebacks).")
@_one_line_errors
def run(host: str, port: int, run_migrations: bool, debug: bool) -> None:
    """Run the development server (use gunicorn in production, see the README)."""
    import logging

    from .app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = _settings()
    if run_migrations:
        migrate(settings.database_url)
    app = create_app(settings)
    click.echo(
        f"Webhook: http://{host}:{port}/api/integrations/webhooks/whatsapp/ "
        f"(public: {settings.api_base_url.rstrip('/')}/api/integrations/webhooks/whatsapp/)",
        err=True,
    )
    from .serve import RedactingRequestHandler

    app.run(
        host=host,
        port=port,
        debug=debug,
        threaded=True,
        use_reloader=debug,
        request_handler=RedactingRequestHandler,
    )


@receiver.command("migrate")
@_one_line_errors
def migrate_command() -> None:
    """Create or upgrade the database schema (Alembic)."""
    settings = _settings()
    migrate(settings.database_url)
    click.echo("database is up to date")


@receiver.command("add-account")
@click.option("--company", required=True, help="Company name; created when new.")
@click.option("--phone-number-id", required=True, callback=_digits)
@click.option("--phone-number", required=True, callback=_digits, help="Display number.")
@click.option(
    "--access-token",
    required=True,
    envvar="WHATSAPP_ACCESS_TOKEN",
    help="WhatsApp access token; stored encrypted (or set WHATSAPP_ACCESS_TOKEN).",
)
@_one_line_errors
def add_account_command(
    company: str, phone_number_id: str, phone_number: str, access_token: str
) -> None:
    """Connect a WhatsApp business phone number to a company."""
    if not company.strip():
        raise click.BadParameter("must not be empty", param_hint="'--company'")
    if not access_token.strip():
        raise click.BadParameter("must not be empty", param_hint="'--access-token'")
    settings = _settings()
    engine = create_db_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        added = add_account(
            make_session_factory(engine),
            TokenCipher(settings.encryption_keys),
            company=company.strip(),
            phone_number_id=phone_number_id,
            phone_number=phone_number,
            access_token=access_token.strip(),
        )
    except AccountExists as error:
        raise ReceiverUsageError(str(error)) from None
    finally:
        engine.dispose()
    click.echo(
        f"account {added.account_id} connected: phone number id {phone_number_id} "
        f"for company {company.strip()!r} (access token stored encrypted)"
    )


@receiver.command("rotate-key")
@_one_line_errors
def rotate_key() -> None:
    """Re-encrypt stored access tokens with the first key of INTEGRATION_ENCRYPTION_KEY.

    Put the new key first and keep the old ones after it (comma-separated),
    run this, then remove the old keys.
    """
    settings = _settings()
    engine = create_db_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        count = rotate_tokens(make_session_factory(engine), TokenCipher(settings.encryption_keys))
    except InvalidToken:
        raise ReceiverUsageError(
            "a stored access token cannot be decrypted with any key in "
            "INTEGRATION_ENCRYPTION_KEY: keep the old key after the new one"
        ) from None
    finally:
        engine.dispose()
    click.echo(f"{count} account(s) re-encrypted with the first key")


def _console() -> Console:
    return Console(soft_wrap=False, width=200)


@receiver.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@_one_line_errors
def clients(limit: int) -> None:
    """The most recently active clients."""
    settings = _settings()
    engine = create_db_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(Client, IntegrationAccount.phone_number_id)
                .join(IntegrationAccount, Client.account_id == IntegrationAccount.id)
                .order_by(Client.id.desc())
                .limit(limit)
            ).all()
    finally:
        engine.dispose()
    table = Table("id", "phone", "name", "source", "account", "last message", title="Clients")
    for client, account in rows:
        table.add_row(
            str(client.id),
            client.phone or client.user_id or "",
            client.name or "",
            client.source,
            account,
            client.last_message_at.isoformat(timespec="seconds") if client.last_message_at else "",
        )
    _console().print(table)


@receiver.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--action", default=None, help="Only this action (whatsapp_message_received ...).")
@_one_line_errors
def logs(limit: int, action: str | None) -> None:
    """The most recent integration logs."""
    settings = _settings()
    engine = create_db_engine(settings.database_url, timeout=settings.database_timeout)
    query = select(IntegrationLog).order_by(IntegrationLog.id.desc()).limit(limit)
    if action:
        query = query.where(IntegrationLog.action == action)
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(query).scalars().all()
    finally:
        engine.dispose()
    table = Table("id", "action", "message id", "type", "from", "text", "at", title="Logs")
    for log in rows:
        table.add_row(
            str(log.id),
            log.action,
            log.message_id or "",
            log.message_type or "",
            log.sender or "",
            (log.text or "")[:60],
            log.created_at.isoformat(timespec="seconds"),
        )
    _console().print(table)


@receiver.command()
@click.option("--once", is_flag=True, help="Apply what is waiting now, then exit.")
@_one_line_errors
def drain(once: bool) -> None:
    """Apply acknowledged deliveries from the inbox to clients, logs and notifications.

    Every receiver process does this in a thread of its own unless
    INBOX_DRAIN=external; run this then (as many as you like: on PostgreSQL
    they share the work, on SQLite they take turns). Stops on SIGTERM or
    Ctrl-C after the pass in progress.
    """
    import logging

    from .app import create_app
    from .drainer import Drainer, drain_forever
    from .state import receiver_state

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = _settings()
    app = create_app(replace(settings, inbox_drain="external"))
    state = receiver_state(app)
    drainer = Drainer(state)
    try:
        if once:
            applied = drainer.drain()
            counts = state.inbox.counts()
            click.echo(
                f"{applied} deliveries applied; {counts.waiting} waiting, "
                f"{counts.failed} given up on"
            )
            return
        stop = threading.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
        click.echo("draining the inbox (Ctrl-C to stop)", err=True)
        drain_forever(drainer, stop=stop)
    finally:
        state.close()


@receiver.command()
@click.option("--retry-failed", is_flag=True, help="Try deliveries that were given up on again.")
@_one_line_errors
def inbox(retry_failed: bool) -> None:
    """How many acknowledged deliveries wait to be applied, and how many were given up on."""
    from .inbox import Inbox

    settings = _settings()
    engine = create_db_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        box = Inbox(engine)
        if retry_failed:
            click.echo(f"{box.retry_failed()} deliveries will be tried again")
        counts = box.counts()
    finally:
        engine.dispose()
    click.echo(f"{counts.waiting} waiting, {counts.failed} given up on")
