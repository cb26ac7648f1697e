"""The code stays as ruff lints and formats it (the versions are pinned in pyproject.toml)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import BIN, REPO

PYTHON_TREES = ["src", "tests", "benchmarks", "setup.py"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command):
    done = subprocess.run(
        [str(BIN / "ruff"), *command, *PYTHON_TREES], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
