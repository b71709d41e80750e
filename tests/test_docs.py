"""The README and docs/ against the code: settings, routes, commands and links.

The facts a reader acts on are held to the app itself, both ways: every setting in
mapapp.config is in the operators' table and nothing else is; every public address of the
URL map is in the partners' page and every address there exists; every command and option
is in the command table and nothing else is; every relative link leads to a file and heading
that exist.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import click
import pytest

from mapapp import create_app
from mapapp.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OPERATORS = DOCS / "operators.md"
PARTNERS = DOCS / "partners.md"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]

# Addresses that need a secret or a log-in: the partners' page may name them, need not.
PRIVATE_PREFIXES = ("/moderate", "/manage/")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def section(path: Path, heading: str) -> str:
    """The text under a level-2 heading, up to the next one."""
    text = read(path)
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"{path.name} has no section '## {heading}'"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the Markdown tables in text (escaped pipes kept)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|[-| ]+\|$", line):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append(cells)
    return rows[1:] if rows else rows


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory):  # noqa: ANN001, ANN201
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.sqlite3'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test"})
    yield app
    app.extensions["mapapp.db"]["engine"].dispose()


# The README itself


def test_readme_is_short_and_starts_with_the_two_commands():
    text = read(README)
    assert len(text.encode("utf-8")) < 15_000
    first_block = re.search(r"^```sh\n(.*?)^```", text, flags=re.S | re.M).group(1)
    assert first_block.startswith("make run ")
    assert "\nmake test " in first_block
    # Before any section: what it is, then the commands.
    assert text.index("make run") < text.index("\n## ")


def test_readme_links_every_doc():
    links = set(re.findall(r"\]\((docs/[^)#]+)", read(README)))
    assert links == {f"docs/{p.name}" for p in DOCS.glob("*.md")}


# Settings: docs/operators.md against mapapp.config


def settings_table() -> dict[str, tuple[str, str]]:
    rows = {}
    for cells in table_rows(section(OPERATORS, "Settings")):
        match = re.fullmatch(r"`MAPAPP_([A-Z0-9_]+)`", cells[0])
        assert match, f"not a setting: {cells[0]}"
        assert match.group(1) not in rows, f"MAPAPP_{match.group(1)} twice"
        rows[match.group(1)] = (cells[1], cells[2])
    return rows


def test_settings_table_names_every_setting_and_no_other():
    documented = set(settings_table())
    declared = {s.name for s in SETTINGS}
    assert declared - documented == set(), "settings missing from docs/operators.md"
    assert documented - declared == set(), "docs/operators.md names unknown settings"


def test_every_setting_has_help_and_a_documented_meaning():
    table = settings_table()
    for setting in SETTINGS:
        assert setting.help, setting.name
        assert len(table[setting.name][1]) > 20, setting.name


def test_settings_table_shows_the_declared_defaults():
    table = settings_table()
    for setting in SETTINGS:
        shown = table[setting.name][0]
        default = setting.default
        if isinstance(default, bool):
            assert shown == ("on" if default else "off"), setting.name
        elif isinstance(default, int):
            assert shown == f"`{default}`", setting.name
        elif isinstance(default, str) and default and not re.search(r"[{<]", default):
            assert f"`{default}`" in shown, setting.name
        elif default in (None, ""):
            # Unset: either "none..." or what the app does instead (a made key, SQLite).
            assert not re.fullmatch(r"`[^`]*`", shown), setting.name


# Routes: docs/partners.md against the URL map


def shape(rule: str) -> str:
    """/api/rallies/<int:rally_id> and /api/rallies/<id> are the same address."""
    return re.sub(r"<[^>]*>", "<>", rule)


def documented_addresses() -> set[str]:
    spans = re.findall(r"`([^`\n]+)`", without_code_blocks(read(PARTNERS)))
    return {shape(span.split("?")[0]) for span in spans if re.fullmatch(r"/\S*", span)}


def test_partners_page_names_only_real_addresses(docs_app):
    routes = {shape(rule.rule) for rule in docs_app.url_map.iter_rules()}
    assert documented_addresses() - routes == set()


def test_partners_page_names_every_public_address(docs_app):
    public = {
        shape(rule.rule)
        for rule in docs_app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.rule.startswith(PRIVATE_PREFIXES)
    }
    assert len(public) > 20
    assert public - documented_addresses() == set(), "public addresses missing from partners.md"


# Commands: the command table in docs/operators.md against the app's click commands


def command_table() -> dict[str, str]:
    rows = {}
    for cells in table_rows(section(OPERATORS, "Command line")):
        names = {span.split()[0] for span in re.findall(r"`([^`]+)`", cells[0])}
        assert len(names) == 1, cells[0]
        rows[names.pop()] = " ".join(cells)
    return rows


def app_commands(app) -> dict[str, click.Command]:  # noqa: ANN001
    context = click.Context(app.cli)
    return {name: app.cli.get_command(context, name) for name in app.cli.list_commands(context)}


def test_command_table_names_every_command_and_no_other(docs_app):
    assert set(command_table()) == set(app_commands(docs_app))


def test_command_table_names_every_option_and_no_other(docs_app):
    table = command_table()
    for name, command in app_commands(docs_app).items():
        options = {
            opt
            for param in command.params
            if isinstance(param, click.Option)
            for opt in (*param.opts, *param.secondary_opts)
            if opt.startswith("--")
        }
        assert set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", table[name])) == options, name


# Links in the README and docs/


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(c for c in text if c in " -" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", without_code_blocks(read(path)), flags=re.M):
        base = slug(heading)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", without_code_blocks(read(path)))
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_relative_links_lead_to_existing_files_and_headings(path):
    for link in relative_links(path):
        file_part, _, anchor = link.partition("#")
        target = (path.parent / file_part).resolve() if file_part else path
        assert target.is_file(), f"{path.name}: {link} leads nowhere"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{path.name}: {link} has no such heading"


def test_the_link_checker_sees_links():
    # A checker that finds nothing passes everything: make sure it reads these pages' links.
    assert "docs/operators.md" in relative_links(README)
    assert "operators.md#keys-and-secrets" in relative_links(PARTNERS)
    assert (
        slug("nginx in front of gunicorn (`make serve`)") == "nginx-in-front-of-gunicorn-make-serve"
    )


# Paths: the files the docs name, and the tree of modules in docs/developers.md

DEVELOPERS = DOCS / "developers.md"
TOP = ("mapapp", "tests", "deploy", "data", "bench", "scripts", "templates", "docs")


def named_paths() -> set[str]:
    found = set()
    for path in MARKDOWN:
        for span in re.findall(r"`([^`\n]+)`", read(path)):
            pattern = rf"(?<![\w./-])((?:{'|'.join(TOP)})/[\w./-]*)"
            found.update(m.rstrip(".") for m in re.findall(pattern, span))
    return found


def module_tree() -> set[str]:
    """The paths of the one-line-a-module tree in docs/developers.md."""
    block = re.search(r"^```\n(mapapp/\n.*?)^```", read(DEVELOPERS), flags=re.S | re.M).group(1)
    stack: list[str] = []
    paths = set()
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        names = re.split(r"\s{2,}", line.strip())[0]
        stack = stack[:depth]
        for name in names.split(", "):
            paths.add("".join(stack) + name)
        if names.endswith("/"):
            stack.append(names)
    return paths


def test_named_files_exist():
    assert "mapapp/config.py" in named_paths()
    missing = sorted(p for p in named_paths() if not (ROOT / p).exists())
    assert missing == []


def test_module_tree_names_every_module_and_no_other():
    tree = module_tree()
    assert "mapapp/places/index.py" in tree and "mapapp/views/api.py" in tree
    assert sorted(p for p in tree if not (ROOT / p).exists()) == []
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "mapapp").rglob("*.py")
        if "migrations" not in path.parts
        and (path.name != "__init__.py" or path.parent == ROOT / "mapapp")
    }
    assert sorted(modules - tree) == [], "modules missing from the tree in docs/developers.md"
