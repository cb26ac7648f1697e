"""File helpers: atomic writes, checksums, input checks and safe file names.

An atomic write leaves no half-written output, a checksum records provenance, and a
safe_stem file name cannot leave its folder.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from metcnv.errors import MetcnvError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds.

    A '.gz' path is gzip-compressed. A failure leaves no partial file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are for others to read
    try:
        with _open(tmp, mode, path.suffix == ".gz") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _open(path: str, mode: str, gz: bool) -> Iterator[IO]:
    """Open for writing. Gzip with mtime 0 and no file name in the header (the name would be
    the temporary one), so that equal content gives equal bytes and equal checksums."""
    if not gz:
        with open(path, mode) as handle:
            yield handle
        return
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as packed:
        if "b" in mode:
            yield packed
        else:
            with io.TextIOWrapper(packed, encoding="utf-8") as text:
                yield text


def md5sum(path: str | Path, chunk: int = 1 << 22) -> str:
    """MD5 of a file's bytes, read in 4 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def require_file(path: str | Path, what: str) -> Path:
    """The path, or a one-line error saying which file is missing and what it should be."""
    path = Path(path)
    if not path.is_file():
        raise MetcnvError(f"{path}: no such file; expected {what}")
    return path


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_stem(name: str, what: str = "sample", source: str | Path = "") -> str:
    """A file-name stem for `name` that cannot leave its folder.

    Names are sanitised, not refused: every character other than letters, digits, `.`,
    `_`, `-` becomes `_` and leading dots go, so `../../x` becomes `_.._x` and `<script>`
    becomes `_script_`. Names with tabs, newlines or other control characters would break
    every tab-separated output and are refused (`source`: the file the name came from).
    """
    if not name or CONTROL.search(name):
        prefix = f"{source}: " if source else ""
        raise MetcnvError(
            f"{prefix}{what} name {name!r} is empty or contains a tab, newline or other "
            f"control character; rename the {what} (letters, digits, . _ - are safest)"
        )
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or what
