"""The status page's packaging: its files ship with the package, and mc report needs no extra."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_static_file_is_package_data():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mc.ui"]
    static = REPO_ROOT / "mc" / "ui" / "static"
    files = [path.relative_to(static.parent).as_posix() for path in static.iterdir()]
    assert files
    assert [
        name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
    ] == []


def test_ui_extra_holds_starlette_and_uvicorn_and_tests_install_them():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = lambda requirements: {r.split(">")[0].split("[")[0] for r in requirements}  # noqa: E731
    assert names(extras["ui"]) == {"starlette", "uvicorn"}
    assert names(extras["ui"]) <= names(extras["test"])


def test_reports_import_no_web_framework():
    code = (
        "import sys; import mc.ui.report, mc.cli; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('starlette', 'uvicorn')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
