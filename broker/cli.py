"""The `videodolmetschen` command: serve, demo data, database, users (and sub-apps of other areas)."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from typing import Annotated

import typer

from broker.config import Settings, get_settings
from broker.enums import Role

app = typer.Typer(help="Videodolmetschen: video interpreting for public-authority counters.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")

from broker.report import plan_cli  # noqa: E402, F401 - adds coverage, plan and what-if to report_app
from broker.report.cli import report_app  # noqa: E402 - sub-apps register after the root app

app.add_typer(report_app, name="report")

from broker.routing.cli import simulate_command  # noqa: E402

app.command("simulate")(simulate_command)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic validation error: show it plainly
        typer.secho(f"Configuration error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _migrate(settings: Settings) -> None:
    from broker.migrate import upgrade

    typer.echo(f"Migrating database {settings.database_url.split('@')[-1]} …")
    upgrade(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    _migrate(_settings())
    typer.echo("Database is up to date.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    migrate: Annotated[bool, typer.Option(help="Run migrations first")] = True,
) -> None:
    """Migrate the database, then serve the app (REST, WebSocket, pages, scheduler)."""
    import uvicorn

    from broker.app import create_app, server_config

    settings = _settings()
    if migrate:
        _migrate(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bind_host, bind_port = host or settings.host, port or settings.port
    typer.echo(f"Videodolmetschen answers on http://{bind_host}:{bind_port} (API docs at /docs)")
    uvicorn.Server(server_config(create_app(settings), host=bind_host, port=bind_port)).run()


@app.command()
def demo(
    history: Annotated[int, typer.Option(help="Months of usage history to generate (idempotent)")] = 12,
    no_history: Annotated[bool, typer.Option("--no-history", help="A bare start: no usage history")] = False,
    migrate: Annotated[bool, typer.Option(help="Run migrations first")] = True,
) -> None:
    """Seed Thuringian demo data (idempotent) with a year of history, and print the logins."""
    from broker.database import make_engine, make_sessionmaker
    from broker.demo.seed import DEMO_PASSWORD, logins_by_language, seed

    if no_history:
        history = 0

    settings = _settings()
    if migrate:
        _migrate(settings)

    async def run() -> None:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as db:
                with typer.progressbar(length=4, label="Seeding demo data") as bar:
                    summary = await seed(db, progress=lambda _label, _done, _total: bar.update(1))
                await db.commit()
                if history > 0:
                    from broker.demo.history import generate_history

                    label = f"Generating {history} months of history"
                    with typer.progressbar(length=history, label=label) as bar:
                        rows = await generate_history(db=db, months=history,
                                                      progress=lambda _done, _total: bar.update(1))
                    await db.commit()
                    typer.echo(f"{rows} ledger rows generated.")
                by_language = await logins_by_language(db)
        finally:
            await engine.dispose()
        typer.echo(
            f"Demo data ready: {summary.offices} offices, {summary.caseworkers} caseworkers, "
            f"{summary.interpreters} interpreters, {summary.languages} languages."
        )
        typer.echo(f"Demo password for every account: {DEMO_PASSWORD}")
        for role, username in summary.logins:
            typer.echo(f"  {role:<12} {username}")
        typer.echo("Interpreters by language (sign in as one of them to receive that language's calls):")
        for code, name, users in by_language:
            more = f" (+{len(users) - 3})" if len(users) > 3 else ""
            typer.echo(f"  {name + ' (' + code + ')':<38} {', '.join(users[:3])}{more}")
        typer.echo("Tip: open the counter and the interpreter console in two different browsers "
                   "(or a private window), since one browser keeps one sign-in.")

    asyncio.run(run())


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="caseworker, interpreter, manager or admin")],
    display_name: Annotated[str | None, typer.Option(help="Shown name (default: username)")] = None,
    office_id: Annotated[int | None, typer.Option(help="Office id (caseworkers)")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted")] = None,
) -> None:
    """Create a user account."""
    from pydantic import ValidationError

    from broker.auth import passwords
    from broker.database import make_engine, make_sessionmaker
    from broker.errors import DomainError
    from broker.user import service as user_service
    from broker.user.schemas import UserCreate

    settings = _settings()
    secret = password or getpass.getpass("Password (at least 12 characters, not a common one): ")
    try:
        user_in = UserCreate(username=username, display_name=display_name or username, role=role,
                             office_id=office_id, email=email, password=secret)
    except ValidationError as exc:
        for error in exc.errors():
            typer.secho(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", fg="red", err=True)
        raise typer.Exit(2) from exc
    try:
        passwords.check(secret, username=username)
    except DomainError as exc:
        typer.secho(f"password: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc

    async def run() -> int:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as db:
                user = await user_service.create(db=db, user_in=user_in, actor_id=None)
                await db.commit()
                return user.id
        finally:
            await engine.dispose()

    try:
        user_id = asyncio.run(run())
    except DomainError as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Created {role.value} '{username}' (id {user_id}).")


# Signalling: `videodolmetschen probe`, a headless test participant (signaling/client/cli.py).
from signaling.client.cli import probe as signaling_probe  # noqa: E402

app.command("probe")(signaling_probe)


def main() -> None:  # pragma: no cover - console entry point
    app(sys.argv[1:])


if __name__ == "__main__":  # `python -m broker.cli`
    main()
