"""The wheel's build step: it must carry everything the app reads at run time.

`data/` and `templates/` stay at the top of the repository (the product's layout) and are
copied into the package at build time; the catalogues are compiled into `.mo` files there
(they are not in git). `mapapp.paths` finds both places. Metadata is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = ("data", "templates")


class BuildWithResources(build_py):
    """build_py, plus data/, templates/ and compiled catalogues inside the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout (make compiles the .mo)
        package = Path(self.build_lib) / "mapapp"
        for name in BUNDLED:
            shutil.copytree(HERE / name, package / name, dirs_exist_ok=True)
        compile_catalogues(package / "translations")


def compile_catalogues(directory: Path) -> None:
    """Write messages.mo beside every messages.po (as `pybabel compile`, fuzzy left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalogues = sorted(directory.glob("*/LC_MESSAGES/messages.po"))
    if not catalogues:
        raise SystemExit(f"no catalogues under {directory}: the wheel would be English only")
    for po in catalogues:
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalog)


setup(cmdclass={"build_py": BuildWithResources})
