"""Client-side search with Pagefind (no server): an index written into the finished site.

Pagefind's extended build (PyPI `pagefind[extended]`, which ships the binary) segments
Japanese, which has no spaces between words. The index is built into the build's temporary
folder just before it is swapped into place, so the published site and its index always
match. Without pagefind installed (or with `search = false` in site.toml, `--no-search`, or
STUDYLOG_SEARCH=0 in the environment) the site builds as before and /search/ says search is
unavailable. Only documents (posts, pages, experiments) are indexed: base.html marks their
<main> with data-pagefind-body.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .collect import Page, Site

BUNDLE = "pagefind"          # folder inside the site
# inside <main> but not the document's own text: heading permalinks ("#"), the previous/next
# post titles, the series box, the table of contents
# Navigation repeated on many pages, and on experiment pages what is data rather than prose
# (status badges, model summary tables drawn with box characters, per-step logs).
EXCLUDE = (".anchor, .post-nav, .series, .page-toc, .footnote-backref, .acc-backrefs, "
           ".badge, .summary-table, details.log")


def available() -> bool:
    return importlib.util.find_spec("pagefind") is not None


def wanted(config, option: bool = True) -> bool:
    """Should this build write an index? (site.toml, the command line, the environment)"""
    return bool(option and config.search and os.environ.get("STUDYLOG_SEARCH", "1") not in ("0", "off", "false")
                and available())


def executable() -> Path | None:
    """Pagefind's binary as the package names it (PAGEFIND_BINARY_PATH, else the one pip
    installed), or None for an older or broken package."""
    env = os.environ.get("PAGEFIND_BINARY_PATH")
    if env:   # as the package reads it, but resolved (its Path("./x") drops the ./ and runs x from PATH)
        if os.sep in env or (os.altsep and os.altsep in env):
            return Path(os.path.abspath(env))
        found = shutil.which(env)
        return Path(os.path.abspath(found)) if found else Path(env)
    if env == "":   # set but empty: the package would run "."; take the binary pip installed
        try:
            from pagefind_bin_extended import get_executable as installed
            return installed()
        except Exception:
            return None
    try:
        from pagefind.service import get_executable
        return get_executable()
    except Exception:
        return None


def identity() -> tuple:
    """Which Pagefind makes the index: the last build's is reused only when it is the same
    binary, unchanged (an upgrade or another PAGEFIND_BINARY_PATH indexes again)."""
    exe = executable()
    if exe is None:
        return ("python -m pagefind",)
    from .manifest import note_read
    note_read(exe)      # and an up-to-date check notices when the binary changes
    try:
        st = os.stat(exe)
    except OSError:
        return (str(exe),)
    return (str(exe), st.st_size, st.st_mtime_ns)


def command(site_dir: Path) -> list[str]:
    """The binary itself (`python -m pagefind` would start a second Python, ~0.1 s, only to
    exec it), else through the package."""
    exe = executable()
    start = [str(exe)] if exe is not None else [sys.executable, "-m", "pagefind"]
    return start + ["--site", str(site_dir), "--output-subdir", BUNDLE, "--exclude-selectors", EXCLUDE, "--silent"]


def index(site_dir: Path, timeout: float = 300) -> str | None:
    """Index `site_dir` in place. Returns None, or a warning to print (the build goes on)."""
    cmd = command(site_dir)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"search index not built: pagefind did not finish in {timeout:g} s"
    except OSError as e:
        return f"search index not built: cannot run pagefind: {e}"
    if proc.returncode != 0 or not (Path(site_dir) / BUNDLE / "pagefind.js").is_file():
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        if not detail:
            detail = [f"exit status {proc.returncode}" if proc.returncode else f"it wrote no {BUNDLE}/pagefind.js"]
        return "search index not built: pagefind failed: " + " / ".join(detail)
    return None


def setup(site: Site, hooks) -> None:
    """Plan /search/; it loads Pagefind's UI when this build writes an index. The index's
    folder is Pagefind's whole: no document may be published inside it, search on or off."""
    from .errors import BuildError, ContentError, display_path
    errors = [BuildError(display_path(p.doc.path), p.doc.path_line(),
                         f"output path /{p.path} is inside /{BUNDLE}/, the search index's folder; set a different 'slug'")
              for p in site.pages_out if p.doc is not None and p.path.split("/")[0] == BUNDLE]
    enabled = bool(site.extra.get("search_index"))
    site.pages_out.append(Page(site.urls.path_of("search"), "search.html", "検索",
                               {"search_enabled": enabled, "bundle": site.urls.href(BUNDLE + "/")}))
    if errors:          # after planning /search/, so that a document on that path is reported too
        raise ContentError(errors)
