"""One build at a time per output folder (and per results folder): an flock beside it.

A second `build.py` on the same output waits for the first and says so; its output never
interleaves with the first's. The lock is the kernel's (fcntl.flock): it is released when the
holder exits, however it exits (SIGKILL included), so a stale lock file never blocks a build.
The lock file itself is left in place (deleting it would race with a waiting build).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking (documented)
    fcntl = None


def lock_path(target: Path) -> Path:
    """The lock file for a folder: `.NAME.lock` beside it (the folder itself gets swapped)."""
    target = Path(target).absolute()
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def hold(target: Path, *, wait: bool = True,
         say: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> Iterator[Path]:
    """Hold the lock of `target` for the block. If another process holds it: wait (telling the
    user who holds it) or, with wait=False, raise BlockingIOError with that message."""
    path = lock_path(target)
    if fcntl is None:
        yield path
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            msg = f"another build (pid {holder}) is writing {target}"
            if not wait:
                raise BlockingIOError(f"{msg}; try again when it has finished") from None
            say(f"build.py: {msg}; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextlib.contextmanager
def build_locks(out: Path, results: Path | None = None, **kw) -> Iterator[None]:
    """The output folder's lock, then the results folder's (always in this order: no deadlock)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(hold(out, **kw))
        if results is not None:
            stack.enter_context(hold(results, **kw))
        yield


def sweep_leftovers(out: Path, results: Path | None = None) -> None:
    """Remove what killed earlier builds left half-made: temp trees beside the output
    (`.NAME.new-*`, `.NAME.old-*`) and result folders gan/ was assembling or replacing
    (`results/.tmp-*`, `results/.old-*`; never `.work/`, which holds resumable checkpoints).
    Call only with both locks held: then no live build owns them."""
    import shutil
    out = Path(out).absolute()
    if not out.exists() and out.parent.is_dir():
        # killed between the two renames of write.py's fallback swap: the old site is whole
        # in .NAME.old-*/site; put it back before anything else
        for p in sorted(out.parent.glob(f".{out.name}.old-*/site")):
            os.rename(p, out)
            break
    spots = [(out.parent, (f".{out.name}.new-", f".{out.name}.old-"))]
    if results is not None:
        spots.append((Path(results), (".tmp-", ".old-")))
    for folder, prefixes in spots:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(prefixes) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
