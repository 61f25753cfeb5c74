"""Result files written once, whole, durably and readably: every file replisim writes goes through ``atomic``.

``atomic(path, write)`` has ``write`` fill a temporary file beside ``path`` (a name of its own, ``.<name>.<random>
.tmp<suffix>``, so two writers never share one), flushes it to disk (fsync), gives it the permissions an ordinary
file of this process would get (``0o666`` less the umask: readable by the group on a shared cluster file system,
where ``mkstemp``'s 0600 would not be), renames it over ``path`` (readers see the old file or the new one, never
half of one) and syncs the directory, so a crash after the rename cannot lose it. A failure removes the temporary.

``stray_temporaries(root)`` finds what a killed writer left behind (the names ``atomic`` uses); a sweep or main
job removes them under its lock (``lock``), when no writer of its own can be running.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    """The process's umask (read without changing it where Linux reports it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()
TEMP_MARK = ".tmp"


def atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then make it ``path`` (module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_MARK + path.suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)
    return path


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_csv(path: str | os.PathLike, frame) -> Path:
    """A DataFrame as CSV (no index), atomically."""
    return write_text(path, frame.to_csv(index=False))


def save_figure(fig, path: str | os.PathLike, **kwargs) -> Path:
    """A Matplotlib Figure as a PNG, atomically (``savefig`` keyword arguments pass through)."""
    return atomic(path, lambda tmp: fig.savefig(tmp, format="png", **kwargs))


def stray_temporaries(root: str | os.PathLike) -> list[Path]:
    """Temporary files of ``atomic`` left under ``root`` by a writer that was killed before its rename."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [p for p in root.rglob(f".*{TEMP_MARK}*") if p.is_file()]


def _busy(directory: Path) -> str:
    return (f"{directory}: another replisim run or sweep is writing into this directory (it holds "
            f"{directory / '.replisim.lock'}); allowed: wait for it to end, or give this one its own directory "
            "(hydra.sweep.dir=... or hydra.run.dir=...)")


class Locked(Exception):
    """Another replisim process holds the directory's lock."""


_HELD: dict[str, int] = {}


def lock(directory: str | os.PathLike) -> None:
    """Take the directory's lock (``.replisim.lock``, an advisory ``flock``) for the rest of this process, or raise
    ``Locked`` at once if another process holds it. Held until the process exits, so a sweep's end-of-run
    aggregation is covered too; taking it again in the same process is a no-op."""
    directory = Path(directory).resolve()
    if str(directory) in _HELD:
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".replisim.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Locked(_busy(directory)) from None
    _HELD[str(directory)] = fd


def holder_message(directory: str | os.PathLike) -> str | None:
    """Why ``lock(directory)`` would fail now (another process holds it), or None: a probe that takes the lock and
    lets it go at once (the command line asks before Hydra starts, so a clash is one line, not a traceback)."""
    directory = Path(directory).resolve()
    path = directory / ".replisim.lock"
    if str(directory) in _HELD or not path.is_file():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _busy(directory)
    finally:
        os.close(fd)  # closing the descriptor releases a lock taken here
    return None
