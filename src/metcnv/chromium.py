"""Headless Chromium: printing the HTML report to an A4 PDF, and screenshots of pages.

Chromium is an optional, external program: `find_chromium` says whether it is on PATH,
and everything else raises one MetcnvError saying how to install it when it is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from metcnv.errors import MetcnvError
from metcnv.files import replacing

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_TIMEOUT = 180  # seconds for one page (a cold start in a container takes ~2 s)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium(source: Path) -> str:
    """Path of Chromium, or a MetcnvError about `source` saying how to install it."""
    binary = find_chromium()
    if binary is None:
        raise MetcnvError(
            f"{source}: Chromium is not installed, so no PDF can be printed; install it "
            "(Debian/Ubuntu: `apt-get install chromium`) or open the HTML report in a browser "
            "and print it to PDF"
        )
    return binary


def chromium(args: list[str], source: Path) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local file with a throw-away profile; stderr is kept.

    Sandboxing is off (`--no-sandbox`) because containers and root accounts cannot use
    it; only metcnv's own local, script-free or inline-script pages are opened.
    """
    binary = require_chromium(source)
    with tempfile.TemporaryDirectory(prefix="metcnv-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
            Path(source).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=CHROMIUM_TIMEOUT,
                env={**os.environ, "HOME": profile},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise MetcnvError(
                f"{source}: Chromium did not finish within {CHROMIUM_TIMEOUT} s; "
                "check that `chromium --headless` runs on this machine"
            ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise MetcnvError(
            f"{source}: Chromium failed (exit {done.returncode}: {last}); check "
            "that `chromium --headless --no-sandbox` runs on this machine"
        )
    return done


def print_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print an HTML file to A4 PDF with headless Chromium (atomic: temp file, rename)."""
    pdf_path = Path(pdf_path)
    require_chromium(html_path)
    with replacing(pdf_path) as tmp:
        chromium(
            [f"--print-to-pdf={tmp}", "--no-pdf-header-footer", "--virtual-time-budget=5000"],
            html_path,
        )
        if os.path.getsize(tmp) == 0:
            raise MetcnvError(
                f"{html_path}: Chromium wrote an empty PDF; print the HTML "
                "report from a browser instead"
            )
    return pdf_path


def screenshot(html_path: Path, png_path: Path, width: int = 1100, height: int = 1600) -> list[str]:
    """Screenshot a page with headless Chromium; returns its console messages.

    Console lines are Chromium's `CONSOLE` log lines (with `--enable-logging=stderr`);
    an uncaught JavaScript error appears as one starting with "Uncaught".
    """
    done = chromium(
        [
            f"--screenshot={png_path}",
            f"--window-size={width},{height}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ],
        html_path,
    )
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
