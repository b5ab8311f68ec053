"""The only code that writes the site. Builds into a temp dir beside the output, then swaps.

A failed or interrupted build leaves the previous output exactly as it was: nothing touches
the real output directory until every file is written; then the directories are exchanged
with one renameat2(RENAME_EXCHANGE) where the OS has it (else two renames).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux >= 3.15). Returns False when unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def write_site(out: Path, files: dict[str, bytes], copies: dict[str, Path]) -> None:
    """Write `files` (output path -> bytes) and `copies` (output path -> source) as `out`."""
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        made: set[Path] = set()
        for rel, data in sorted(files.items()):
            dest = _inside(tmp, rel)
            if dest.parent not in made:
                dest.parent.mkdir(parents=True, exist_ok=True)
                made.add(dest.parent)
            dest.write_bytes(data)
        for rel, src in sorted(copies.items()):
            dest = _inside(tmp, rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; a web server needs to read it
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _inside(root: Path, rel: str) -> Path:
    dest = (root / rel).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write outside the output folder: {rel}")
    return dest


def _swap(new: Path, out: Path) -> None:
    if out.exists() or out.is_symlink():
        if _exchange(new, out):
            shutil.rmtree(new, ignore_errors=True)   # `new` now holds the old site
            return
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "site")
        os.rename(new, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(new, out)
