"""Commands for operators: flask --app mapapp <command>."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from mapapp import db
from mapapp.geocode import gazetteer, geocode
from mapapp.seed import demo_rallies, load_seed


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the schema and load the seed rallies (safe to run again)."""
    db.upgrade_schema()
    added = load_seed(db.session(), gazetteer())
    click.echo(f"Database ready; {added} seed rallies added.")


@click.command("demo-data")
@with_appcontext
@click.option("--count", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--seed", type=int, default=None, help="Random seed, for the same data each time.")
def demo_data_command(count: int, seed: int | None) -> None:
    """Add COUNT synthetic approved rallies over real Belarusian towns."""
    session = db.session()
    rallies = demo_rallies(gazetteer(), count, seed=seed)
    with click.progressbar(length=len(rallies), label="Adding rallies") as bar:
        for start in range(0, len(rallies), 1000):
            session.add_all(rallies[start : start + 1000])
            session.flush()
            bar.update(len(rallies[start : start + 1000]))
    session.commit()
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


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(geocode_command)
