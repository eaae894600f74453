"""The team's habits, enforced: ruff's lint rules and formatter, and the library layer type-checked by mypy.

The rules are chosen in pyproject.toml ([tool.ruff], [tool.mypy]); .pre-commit-config.yaml runs the same
commands before a commit. Each check skips, saying why, where its tool is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["camlib", "tests", "benchmarks", "book/_ext"]


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return [str(exe)]
    if shutil.which(name):
        return [name]
    pytest.skip(f"{name} is not installed (it is in the test extra: pip install -e '.[test]')")


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_passes():
    out = _run([*_tool("ruff"), "check", *PATHS])
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_applied():
    out = _run([*_tool("ruff"), "format", "--check", *PATHS])
    assert out.returncode == 0, "run `ruff format` on:\n" + out.stdout + out.stderr


def test_mypy_passes_on_the_library_layer():
    out = _run([*_tool("mypy")])
    assert out.returncode == 0, out.stdout + out.stderr
