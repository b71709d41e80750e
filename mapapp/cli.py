"""Commands for operators: flask --app mapapp <command>."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from mapapp.domain import db, lifecycle, suspension
from mapapp.domain.geocoding import gazetteer, geocode
from mapapp.domain.importer import ImportError_, read_rows, write_rows
from mapapp.domain.models import Moderator
from mapapp.domain.seed import demo_rallies, load_seed
from mapapp.web import accounts, caching, preparer, twofactor


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the schema and load the seed rallies (safe to run again)."""
    db.upgrade_schema()
    added = load_seed(db.session(write=True), gazetteer())
    click.echo(f"Database ready; {added} seed rallies added.")


@click.command("demo-data")
@with_appcontext
@click.option("--count", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--seed", type=int, default=None, help="Random seed, for the same data each time.")
def demo_data_command(count: int, seed: int | None) -> None:
    """Add COUNT synthetic approved rallies over real Belarusian towns."""
    session = db.session(write=True)
    rallies = demo_rallies(gazetteer(), count, seed=seed)
    with click.progressbar(length=len(rallies), label="Adding rallies") as bar:
        for start in range(0, len(rallies), 1000):
            lifecycle.publish_many(session, rallies[start : start + 1000], actor="demo-data")
            bar.update(len(rallies[start : start + 1000]))
    session.commit()
    db.analyze()
    click.echo(f"Added {count} demo rallies.")


@click.command("geocode")
@click.argument("queries", nargs=-1, required=True)
@click.option("--lang", type=click.Choice(["be", "ru", "en"]), default="en", show_default=True)
@with_appcontext
def geocode_command(queries: tuple[str, ...], lang: str) -> None:
    """Geocode QUERIES (or '-' to read one per line from stdin): one JSON object a line."""
    lines = sys.stdin if queries == ("-",) else queries
    for line in lines:
        query = line.rstrip("\r\n")
        result = geocode(query, lang)
        if not result.get("alternatives"):
            result.pop("alternatives", None)  # one line a query stays short
        click.echo(json.dumps(result, ensure_ascii=False))


@click.command("import-rallies")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_rallies_command(file) -> None:  # noqa: ANN001
    """Import rallies from a CSV FILE: every row, or none if any row is bad."""
    lines = file.readlines()
    with click.progressbar(length=max(len(lines) - 1, 0), label="Checking rows") as bar:
        try:
            rows = read_rows(lines, gazetteer(), geocode, bar.update)
        except ImportError_ as error:
            for problem in error.problems:
                click.echo(problem, err=True)
            raise click.ClickException(
                f"{len(error.problems)} bad rows: nothing was imported"
            ) from None
    from mapapp.domain import contacts

    if not contacts.accepting() and any(row.fields.get("contact") for row in rows):
        raise click.ClickException(
            "the file has contacts, but MAPAPP_CONTACT_KEY is not set: they would be stored "
            "in clear. Set a key (flask --app mapapp new-contact-key) or empty the column"
        )
    # Checked first, then written in short batches: the site keeps taking submissions.
    with click.progressbar(length=len(rows), label="Importing") as bar:
        stored = write_rows(db.session(write=True), rows, bar.update)
    db.analyze()
    click.echo(f"Imported {stored} rallies.")


@click.command("create-moderator")
@click.argument("name")
@with_appcontext
def create_moderator_command(name: str) -> None:
    """Create moderator NAME, or set a new password (prompted, or MAPAPP_MODERATOR_PASSWORD).

    A new password ends every session of that moderator."""
    password = os.environ.get("MAPAPP_MODERATOR_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    if len(password) < 10:
        raise click.ClickException("Use a password of at least 10 characters.")
    if len(name) > 80 or not name.strip():
        raise click.ClickException("The name must be 1 to 80 characters.")
    session = db.session(write=True)
    moderator = session.scalars(select(Moderator).where(Moderator.name == name)).first()
    if moderator is None:
        moderator = Moderator(name=name, password_hash="", session_epoch=0)
        session.add(moderator)
    else:
        accounts.end_sessions(moderator)  # a new password logs out every old session
    moderator.password_hash = generate_password_hash(password)
    session.commit()
    click.echo(f"Moderator {name} is ready.")


def _moderator_named(name: str) -> Moderator:
    found = db.session(write=True).scalars(select(Moderator).where(Moderator.name == name)).first()
    if found is None:
        raise click.ClickException(f"No moderator named {name!r}.")
    return found


@click.command("reset-second-factor")
@click.argument("name")
@with_appcontext
def reset_second_factor_command(name: str) -> None:
    """Forget moderator NAME's second factor and recovery codes (a lost phone) and end their
    sessions: they set up a new one at their next log-in. Check who asks, outside the site."""
    moderator = _moderator_named(name)
    session = db.session(write=True)
    twofactor.reset(session, moderator)
    lifecycle.audit(session, lifecycle.SYSTEM, "reset_second_factor", None, name)
    session.commit()
    click.echo(f"The second factor of {name} is reset: they set up a new one at the next log-in.")


@click.command("reinstate-moderator")
@click.argument("name")
@with_appcontext
def reinstate_moderator_command(name: str) -> None:
    """Lift the suspension two moderators put on moderator NAME (reverted rallies stay as
    they are). Consider `reset-second-factor` and a new password too."""
    moderator = _moderator_named(name)
    if moderator.suspended_at is None:
        raise click.ClickException(f"{name} is not suspended.")
    suspension.reinstate(db.session(write=True), moderator)
    click.echo(f"{name} may log in again.")


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete organizers' contacts MAPAPP_CONTACT_DAYS after their rally, and the texts of
    rallies rejected or withdrawn MAPAPP_REJECTED_DAYS ago (run it daily)."""
    days = current_app.config["CONTACT_DAYS"]
    count = lifecycle.purge_contacts(db.session(write=True), days)
    click.echo(f"Deleted the contact of {count} rallies that ended more than {days} days ago.")
    days = current_app.config["REJECTED_DAYS"]
    count = lifecycle.purge_rejected(db.session(), days)
    click.echo(f"Deleted the texts of {count} rallies rejected or withdrawn over {days} days ago.")
    db.forget_deleted()


@click.command("new-contact-key")
def new_contact_key_command() -> None:
    """Print a new key for MAPAPP_CONTACT_KEY (keep it off the database's disk)."""
    from cryptography.fernet import Fernet

    click.echo(f"MAPAPP_CONTACT_KEY={Fernet.generate_key().decode()}")


@click.command("rotate-contact-key")
@with_appcontext
def rotate_contact_key_command() -> None:
    """Re-encrypt every contact with the first key of MAPAPP_CONTACT_KEY.

    Rotation: set MAPAPP_CONTACT_KEY="NEW OLD", run this, then set it to "NEW". Contacts
    stored in clear (before a key was set) are encrypted too.
    """
    from cryptography.fernet import InvalidToken

    from mapapp.domain import contacts

    try:
        with db.engine().begin() as connection:
            count = contacts.rotate(connection)
    except contacts.ContactKeyMissing as error:
        raise click.ClickException(str(error)) from None
    except InvalidToken:
        raise click.ClickException(
            "a contact is encrypted with a key that is not in MAPAPP_CONTACT_KEY: "
            "nothing was changed (add the old key after the new one)"
        ) from None
    click.echo(f"Encrypted {count} contacts with the first key.")


@click.command("export-static")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["be", "ru", "en"]), default="be", show_default=True)
@click.option("--when", type=click.Choice(["upcoming", "past", "all"]), default="upcoming")
@click.option("--region", default=None, help="A region's rallies only (BY-BR, BY-HM, ...).")
@click.option(
    "--city", default=None, help="A town's rallies only (any spelling the gazetteer knows)."
)
@click.option("--from", "date_from", default=None, help="From this date (YYYY-MM-DD, Minsk).")
@click.option("--to", "date_to", default=None, help="To this date (YYYY-MM-DD, Minsk).")
@click.option(
    "--tiles/--no-tiles",
    default=None,
    help="Tiles from MAPAPP_TILE_URL when the file is opened online (default: "
    "MAPAPP_EXPORT_TILES, off: the app's own basemap only, no other host asked).",
)
@click.option(
    "--base-url",
    default=None,
    help="The site's address, for links to rally pages (default: MAPAPP_BASE_URL).",
)
@with_appcontext
def export_static_command(
    directory: Path,
    lang: str,
    when: str,
    region: str | None,
    city: str | None,
    date_from: str | None,
    date_to: str | None,
    tiles: bool | None,
    base_url: str | None,
) -> None:
    """Write DIRECTORY/index.html (the map in one file that works opened from disk),
    rallies.geojson and rallies.ics; signed with MAPAPP_SIGNING_KEY when it is set."""
    from mapapp.domain.filters import BadFilter, parse_filter
    from mapapp.publishing.export import export_static

    base_url = base_url or current_app.config["BASE_URL"]
    asked = {"when": when, "region": region, "city": city, "from": date_from, "to": date_to}
    try:
        rally_filter = parse_filter({k: v for k, v in asked.items() if v}, gazetteer())
    except BadFilter as error:
        with current_app.test_request_context("/?lang=en"):  # the message is lazy gettext
            raise click.UsageError(str(error)) from None
    export = export_static(current_app, directory, lang, base_url, rally_filter, tiles=tiles)
    for name in export.files:
        size = (directory / name).stat().st_size
        click.echo(f"Wrote {directory / name} ({size // 1024} KB).")
    if not export.signed:
        click.echo("Not signed: set MAPAPP_SIGNING_KEY (see `signing-key`).", err=True)


@click.command("signing-key")
def signing_key_command() -> None:
    """Make a new Ed25519 signing key: prints MAPAPP_SIGNING_KEY=<secret> for the environment."""
    from mapapp.publishing.signing import load_key, new_secret

    secret = new_secret()
    click.echo(f"MAPAPP_SIGNING_KEY={secret}")
    # The public half on stderr, so `>> .env` keeps only the secret line.
    click.echo(f"Public key (minisign): {load_key(secret).public_key_base64()}", err=True)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write a consistent copy of the database to PATH while the site runs.

    It holds organizers' contacts until they are purged: keep it private, delete old copies.
    """
    from mapapp.domain.backup import BackupError, backup

    try:
        backup(db.engine(), path)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Wrote {path} ({path.stat().st_size // 1024} KB).")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.confirmation_option(prompt="Replace everything in the database with this copy?")
@with_appcontext
def restore_command(path: Path) -> None:
    """Replace the database's contents with the copy at PATH (made by `backup`)."""
    from mapapp.domain.backup import BackupError, restore

    try:
        restore(db.engine(), path, upgrade=db.upgrade_schema)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    db.analyze()
    click.echo(f"Restored the database from {path}.")
    # The restored data's parts and common documents, as after a deploy: without them every
    # worker's first answers are joined from nothing (mapapp.web.caching).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    made = caching.prepare_parts(app)
    kept = caching.prepare_documents(app)
    click.echo(f"Parts made for {made} rallies; {kept} common documents prepared.")
    # Every running worker keeps caches of the old data (map shells, pages, the data version
    # it last saw): they start afresh only with a new process.
    click.echo(
        "Now restart the app (systemctl restart mapapp, or stop and start make serve) so that "
        "every worker serves the restored data."
    )


@click.command("prepare-parts")
@with_appcontext
def prepare_parts_command() -> None:
    """Make every public rally's shared parts and the common documents now (after a deploy)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    made = caching.prepare_parts(app)
    # Statistics before the first reads: a deploy's copy of the database, or parts made by
    # the thousand, may have none yet (mapapp.domain.db.analyze).
    db.analyze()
    kept = caching.prepare_documents(app)
    click.echo(f"Parts made for {made} rallies; {kept} common documents prepared.")


def prepare_documents_child() -> None:
    """The child a serving worker starts to prepare the common documents
    (mapapp.web.preparer.prepare_in_child): the app made from the settings (a JSON object) on
    stdin, its documents prepared, and {"prepared": n} printed as the last line of stdout."""
    from mapapp import create_app

    app = create_app(json.load(sys.stdin))
    prepared = caching.prepare_documents(app, preparer.parent_alive)
    app.extensions["mapapp.db"]["engine"].dispose()
    print(json.dumps({"prepared": prepared}), flush=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(prepare_parts_command)
    app.cli.add_command(init_db_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(geocode_command)
    app.cli.add_command(import_rallies_command)
    app.cli.add_command(create_moderator_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(reset_second_factor_command)
    app.cli.add_command(reinstate_moderator_command)
    app.cli.add_command(new_contact_key_command)
    app.cli.add_command(rotate_contact_key_command)
    app.cli.add_command(export_static_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(signing_key_command)
