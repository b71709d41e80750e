"""Install the optional packages the configured settings need, before the app starts.

    python deploy/extras.py

`make serve` runs it. A PostgreSQL MAPAPP_DATABASE_URL (or DATABASE_URL) needs psycopg (the
`postgres` extra), MAPAPP_REDIS_URL needs redis (the `redis` extra). What is missing is
installed with pip into this interpreter's environment, as `make install` installs the app;
when that fails it stops with one sentence saying what to install.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def needed(environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(extra, module, setting) for each optional package the settings call for."""
    found = []
    database = environ.get("MAPAPP_DATABASE_URL") or environ.get("DATABASE_URL") or ""
    if database.split(":", 1)[0].split("+", 1)[0] in ("postgres", "postgresql"):
        name = "MAPAPP_DATABASE_URL" if environ.get("MAPAPP_DATABASE_URL") else "DATABASE_URL"
        found.append(("postgres", "psycopg", name))
    if environ.get("MAPAPP_REDIS_URL"):
        found.append(("redis", "redis", "MAPAPP_REDIS_URL"))
    return found


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main(
    environ: Mapping[str, str] = os.environ,
    have: Callable[[str], bool] = installed,
    run: Callable[[list[str]], int] = lambda args: subprocess.call(args, cwd=ROOT),  # noqa: S603
) -> int:
    missing = [item for item in needed(environ) if not have(item[1])]
    if not missing:
        return 0
    extras = ",".join(extra for extra, _, _ in missing)
    print(f"Installing what the settings need: .[{extras}]", file=sys.stderr, flush=True)
    status = run([sys.executable, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"])
    if status != 0 or not all(have(module) for _, module, _ in missing):
        settings = " and ".join(setting for _, _, setting in missing)
        modules = " and ".join(module for _, module, _ in missing)
        sys.exit(
            f"{settings} needs {modules}, which could not be installed: run "
            f"`{sys.executable} -m pip install -e '.[{extras}]'` (it needs PyPI) and try again."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
