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


MARKER = ".nojekyll"   # every build writes it; its presence says "this folder is ours to replace"


def unsafe_output(out: Path) -> str | None:
    """Why replacing `out` could destroy someone's files, or None when it is safe."""
    out = Path(out)
    if not out.exists():
        return None
    if not out.is_dir():
        return f"{out} exists and is not a folder"
    if any(out.iterdir()) and not (out / MARKER).exists():
        return f"{out} is not empty and was not written by studylog (no {MARKER}); refusing to replace it"
    return None


class SiteWriter:
    """Collects the new site in a temp dir beside `out`; `commit()` swaps it into place.

    Used as a context manager: leaving the block without commit() (an error, Ctrl-C) removes
    the temp dir and leaves `out` untouched. Forked page workers may call put() too: they
    inherit the temp dir's path and write disjoint files.
    """

    def __init__(self, out: Path):
        problem = unsafe_output(out)
        if problem:
            raise ValueError(problem)
        self.out = Path(out).absolute()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.new-", dir=self.out.parent))
        self._dirs: set[Path] = {self.tmp}
        self.count = 0

    def put(self, rel: str, data: bytes) -> None:
        dest = _inside(self.tmp, rel)
        if dest.parent not in self._dirs:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(dest.parent)
        dest.write_bytes(data)
        self.count += 1

    def link(self, rel: str, src: Path) -> None:
        """Reuse an unchanged file of the previous output: a hard link (a copy where links fail).
        The old tree is never written to, so it stays exactly as it was until the swap."""
        dest = _inside(self.tmp, rel)
        if dest.parent not in self._dirs:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(dest.parent)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)
        self.count += 1

    def copy(self, rel: str, src: Path) -> None:
        dest = _inside(self.tmp, rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        self.count += 1

    def commit(self) -> None:
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it 0700; a web server needs to read it
        _swap(self.tmp, self.out)
        self.tmp = None

    def __enter__(self) -> "SiteWriter":
        return self

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def write_site(out: Path, files: dict[str, bytes], copies: dict[str, Path]) -> None:
    """Write `files` (output path -> bytes) and `copies` (output path -> source) as `out`."""
    with SiteWriter(out) as w:
        for rel, data in sorted(files.items()):
            w.put(rel, data)
        for rel, src in sorted(copies.items()):
            w.copy(rel, src)
        w.commit()


def _inside(root: Path, rel: str) -> Path:
    # lexical check (no resolve(): the temp dir is ours and holds no symlinks)
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise ValueError(f"refusing to write outside the output folder: {rel!r}")
    return root / rel


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
