"""File helpers: atomic writes under a folder lock, checksums, input checks, safe file names.

An atomic write leaves no half-written output; the folder lock keeps concurrent metcnv
runs writing into one folder from mixing their files, and lets a run clear the temporary
files a killed run left behind; a checksum records provenance; a safe_stem file name
cannot leave its folder, and two different names never share one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from metcnv.errors import MetcnvError

LOCK_NAME = ".metcnv.lock"  # one per output folder; empty, kept (removing it would race)
_held: dict[Path, int] = {}  # folders whose lock this process holds -> nesting depth


@contextlib.contextmanager
def locked(*folders: str | Path, reading: tuple[str | Path, ...] = ()) -> Iterator[None]:
    """Hold the write lock of each folder (created if missing) for the block, and of each
    existing `reading` folder whose lock can be taken (none in a read-only folder).

    Every metcnv writer takes the lock of the folder it writes into, and the commands that
    write a set of files (a call's results, a sample's reports) hold it across the whole
    set, so two runs into one folder write one after the other: the folder ends with one
    run's complete set, never a mix; a reader of a set holds its folder's lock to read a
    complete one. Reentrant within a process; folders are locked in sorted order, so two
    processes locking the same folders cannot deadlock. On a file system without locks
    (flock refused), writing goes ahead unlocked.
    """
    wanted = {output_folder(f).resolve(): True for f in folders}
    for folder in map(Path, reading):
        wanted.setdefault(folder.resolve(), False)
    with contextlib.ExitStack() as stack:
        for folder in sorted(wanted):
            stack.enter_context(_folder_lock(folder, required=wanted[folder]))
        yield


@contextlib.contextmanager
def _folder_lock(folder: Path, required: bool = True) -> Iterator[None]:
    if folder in _held:
        _held[folder] += 1
        try:
            yield
        finally:
            _held[folder] -= 1
        return
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        if required:
            raise _unwritable(folder, error) from None
        fd = None  # a folder this process cannot write to: read it unlocked
    if fd is None:
        yield
        return
    try:
        with contextlib.suppress(OSError):  # ENOLCK, EOPNOTSUPP: no locks on this file system
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held[folder] = 1
        yield
    finally:
        _held.pop(folder, None)
        os.close(fd)  # releases the lock


def output_folder(folder: str | Path, option: str = "") -> Path:
    """The folder, created if missing, or a one-line error saying why it cannot be written."""
    folder = Path(folder)
    label = f"{option} {folder}" if option else str(folder)
    if folder.exists() and not folder.is_dir():
        raise MetcnvError(f"{label}: is a file, not a folder; give a folder for the outputs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unwritable(folder, error, label) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _unwritable(folder, PermissionError(errno.EACCES, "Permission denied"), label)
    return folder


def output_file(path: str | Path, option: str = "") -> Path:
    """The path of a file to write: its folder exists and is writable, and it is no folder."""
    path = Path(path)
    if path.is_dir():
        raise MetcnvError(f"{option} {path}".strip() + ": is a folder; give a file name")
    output_folder(path.parent, f"{option} {path}: its folder".strip())
    return path


def _unwritable(folder: Path, error: OSError, label: str = "") -> MetcnvError:
    reason = error.strerror or str(error)
    return MetcnvError(
        f"{label or folder}: cannot write there ({reason}); choose a folder you can write to"
    )


def _clear_stale(path: Path) -> None:
    """Remove the temporary files or folders a killed writer of `path` left beside it
    (called under the folder's lock, so no live writer of `path` owns one)."""
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


def glob_escape(name: str) -> str:
    """`name` with glob's special characters taken literally."""
    return re.sub(r"([*?[])", r"[\1]", name)


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed over `path` when the block succeeds and
    removed when it fails; the folder stays locked meanwhile (see `locked`). A write that
    fails (disk full, permissions) is one line naming `path`."""
    path = Path(path)
    with locked(path.parent):
        try:
            _clear_stale(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are for others
        except OSError as error:
            raise _unwritable(path.parent, error, str(path)) from None
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except OSError as error:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise MetcnvError(
                f"{path}: cannot be written ({error.strerror or error}); check the free space "
                "and that the path is no folder"
            ) from None
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def temporary_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside `path` for writers that make several files at once (a VCF
    and its index), removed after the block; the folder stays locked meanwhile."""
    path = Path(path)
    with locked(path.parent):
        _clear_stale(path)
        with tempfile.TemporaryDirectory(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        ) as tmp:
            yield Path(tmp)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds.

    A '.gz' path is gzip-compressed. A failure leaves no partial file behind.
    """
    path = Path(path)
    with replacing(path) as tmp, _open(str(tmp), mode, path.suffix == ".gz") as handle:
        yield handle


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
    """The path of a readable file, or a one-line error saying what is wrong with it and
    what it should be."""
    path = Path(path)
    if path.is_dir():
        raise MetcnvError(f"{path}: is a folder; expected {what}")
    if not path.is_file():
        raise MetcnvError(f"{path}: no such file; expected {what}")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        raise MetcnvError(
            f"{path}: cannot be read ({error.strerror or error}); check its permissions"
        ) from None
    return path


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_stem(name: str, what: str = "sample", source: str | Path = "") -> str:
    """A file-name stem for `name` that cannot leave its folder and no other name shares.

    A name of letters, digits, `.`, `_`, `-` (not starting with a dot) is its own stem.
    Other names are sanitised, not refused: every other character becomes `_`, leading
    dots go, and 8 hex digits of the name's MD5 are added, so `../../x` becomes
    `_.._x-<md5>`, and `a/b` and `a_b` never write the same files. Names with tabs,
    newlines or other control characters would break every tab-separated output and are
    refused (`source`: the file the name came from).
    """
    if not name or CONTROL.search(name):
        prefix = f"{source}: " if source else ""
        raise MetcnvError(
            f"{prefix}{what} name {name!r} is empty or contains a tab, newline or other "
            f"control character; rename the {what} (letters, digits, . _ - are safest)"
        )
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    if stem == name:
        return name
    return f"{stem or what}-{hashlib.md5(name.encode()).hexdigest()[:8]}"
