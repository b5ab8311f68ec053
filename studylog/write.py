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

    def __init__(self, out: Path, spare: Path | None = None):
        """`spare`: a previous version of the site, not live, to bring up to date in place
        (only changed files are written; each by a rename, so an inode it may share with
        the live site by a hard link is never modified). After commit() it holds the
        site that was live. Without it the new site is built in a fresh temp dir."""
        problem = unsafe_output(out)
        if problem:
            raise ValueError(problem)
        self.out = Path(out).absolute()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.spare = Path(spare).absolute() if spare is not None else None
        self.in_place = self.spare is not None and self.spare.is_dir() and not self.spare.is_symlink()
        if self.in_place:
            self.tmp = self.spare
        else:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.new-", dir=self.out.parent))
        self._dirs: set[Path] = {self.tmp}
        self.count = 0

    def _dest(self, rel: str) -> tuple[Path, Path]:
        """-> (final path, path to write first): in place, a temp name renamed over the file."""
        dest = _inside(self.tmp, rel)
        if dest.parent not in self._dirs:
            if dest.parent.exists() and not dest.parent.is_dir():
                dest.parent.unlink()       # a file where a folder must be (an older site)
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(dest.parent)
        if self.in_place:
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)        # a folder where a file must be
            return dest, dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        return dest, dest

    def put(self, rel: str, data: bytes) -> None:
        dest, first = self._dest(rel)
        _write_new(first, data)
        if first != dest:
            os.replace(first, dest)
        self.count += 1

    def prune(self, keep) -> None:
        """Make a spare hold no file outside `keep` (output paths) and no empty folder."""
        keep = set(keep)
        want_dirs = {""}
        for r in keep:
            parts = r.split("/")
            for i in range(1, len(parts)):
                want_dirs.add("/".join(parts[:i]))
        stack = [("", str(self.tmp))]
        extra_dirs = []
        while stack:
            rel, path = stack.pop()
            with os.scandir(path) as it:
                for e in it:
                    r = f"{rel}/{e.name}" if rel else e.name
                    if e.is_dir(follow_symlinks=False):
                        if r in want_dirs:
                            stack.append((r, e.path))
                        else:
                            extra_dirs.append(e.path)
                    elif r not in keep:
                        os.unlink(e.path)
        for d in extra_dirs:
            shutil.rmtree(d, ignore_errors=True)

    def link(self, rel: str, src: Path) -> None:
        """Reuse an unchanged file of the previous output: a hard link (a copy where links fail).
        The old tree is never written to, so it stays exactly as it was until the swap."""
        dest, first = self._dest(rel)
        try:
            os.link(src, first)
        except OSError:
            shutil.copy2(src, first)
        if first != dest:
            os.replace(first, dest)
            # renaming a hard link over another link of the same file does nothing at all
            # (POSIX rename): the spare may already hold this very file from a failed build
            if os.path.lexists(first):
                os.unlink(first)
        self.count += 1

    def copy(self, rel: str, src: Path) -> None:
        dest, first = self._dest(rel)
        try:
            os.unlink(first)    # never copy into a file already there: it may be a link to the live site
        except FileNotFoundError:
            pass
        shutil.copyfile(src, first)
        if first != dest:
            os.replace(first, dest)
        self.count += 1

    def commit(self) -> None:
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it 0700; a web server needs to read it
        _swap(self.tmp, self.out, keep=self.spare)
        self.tmp = None

    def __enter__(self) -> "SiteWriter":
        return self

    def __exit__(self, *exc) -> None:
        if self.tmp is not None and not self.in_place:
            shutil.rmtree(self.tmp, ignore_errors=True)
        # a half-updated spare stays: it is not live, and the next build checks each file


def _write_new(path: Path, data: bytes) -> None:
    """Write `path` as a new file. A file already there (made before in this build, maybe a
    hard link to the live site's) is unlinked first, never written through."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with open(fd, "wb") as f:
        f.write(data)


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


def _swap(new: Path, out: Path, keep: Path | None = None) -> None:
    """Make `new` the output. The old output is deleted, or with `keep` ends up there (the
    spare the next incremental build updates in place, instead of deleting it now)."""
    if out.exists() or out.is_symlink():
        if _exchange(new, out):
            if keep is None:
                shutil.rmtree(new, ignore_errors=True)   # `new` now holds the old site
            elif new != keep:
                _replace_dir(new, keep)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "site")
        try:
            os.rename(new, out)
        except BaseException:
            os.rename(old / "site", out)     # never leave the output missing
            raise
        if keep is not None:
            _replace_dir(old / "site", keep)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(new, out)


def _replace_dir(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest, ignore_errors=True)
    try:
        os.rename(src, dest)
    except OSError:
        shutil.rmtree(src, ignore_errors=True)
