"""Incremental builds: what every output was made from, so a rebuild redoes only what changed.

The cache lives beside the output, in `<out's parent>/.studylog-cache/<out's name>/`:

    manifest.pickle   for every output file: a key (hash of everything it was made from) and
                      the file's (size, mtime, inode) as written; the parsed documents by source
                      hash; each Markdown rendering's references and what they resolved to;
                      template analyses; file hashes by stat
    markdown-?.pickle rendered Markdown (html, toc, summaries) by its own hash, in 16 shards

A key covers: studylog's own code (every .py here and the versions of the libraries it
renders with), site.toml, the templates a page's template pulls in (extends / include /
import, override folder first), the page's context (documents by fingerprint: source hash +
rendered Markdown + what its references resolved to), files it shows (by content hash) and
whatever globals its templates read (`site` = every document). A template that calls a
global this module does not know, uses a filter it does not know, or includes a template by
a computed name makes its pages uncacheable: they are rendered every time (correct, slower).
Add such a global to GLOBAL_DIGESTS to make them cacheable.

The manifest is trusted only for the output folder it was written for (its inode, which the
atomic swap carries over), and only for files whose (size, mtime, inode) still match: a hand
edit inside the output folder is redone. Anything unreadable or from another version is
ignored, which means a clean build.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from .content import Document as _Document

FORMAT = 2
CACHE_DIR = ".studylog-cache"
PACKAGE = Path(__file__).resolve().parent
# the libraries whose version changes the bytes we write
LIBRARIES = ("jinja2", "markupsafe", "markdown", "pymdownx", "pygments", "latex2mathml", "yaml", "PIL")


class Uncacheable(Exception):
    """A value we cannot fingerprint reliably: the output is made every time."""


def _h() -> "hashlib._Hash":
    return hashlib.blake2b(digest_size=16)


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# What loading a cache file may raise: missing, unreadable, truncated, from another version,
# or corrupt in any way (a bad frame length raises OverflowError or MemoryError); a cache
# that cannot be read is as if absent, never a failed build.
CACHE_UNREADABLE = Exception


def stat_sig(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def out_sig(st: os.stat_result) -> tuple:
    # ctime changes when a hard link is added or removed; size/mtime/inode do not
    return (st.st_size, st.st_mtime_ns, st.st_ino)


_CODE: str | None = None


def code_version() -> str:
    """Hash of studylog's source and of the installed renderers (by file stat, no import)."""
    global _CODE
    if _CODE is None:
        import importlib.util
        h = _h()
        h.update(f"{FORMAT}:{sys.version}".encode())
        for p in sorted(PACKAGE.rglob("*.py")):
            h.update(p.relative_to(PACKAGE).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
        for name in LIBRARIES:
            try:
                spec = importlib.util.find_spec(name)
                origin = spec.origin if spec else None
                st = os.stat(origin) if origin else None
                h.update(f"{name}:{origin}:{st.st_size if st else 0}:{st.st_mtime_ns if st else 0};".encode())
            except (ImportError, ValueError, OSError):
                h.update(f"{name}:-;".encode())
        _CODE = h.hexdigest()
    return _CODE


def cache_dir(out: Path) -> Path:
    out = Path(out).absolute()
    return out.parent / CACHE_DIR / out.name


# --- fingerprints of values ---------------------------------------------------------------

def feed(h, v: Any, fp: Callable[[Any], str], depth: int = 0) -> None:
    """Feed a deterministic encoding of `v` into hasher `h`; documents go in by fingerprint."""
    t = type(v)
    if t is str:
        b = v.encode("utf-8", "surrogatepass")
        h.update(b"s%d:%b" % (len(b), b))
    elif t is _Document:
        h.update(b"D" + fp(v).encode())
    elif t is list or t is tuple:
        if depth > 60:
            raise Uncacheable("too deep")
        memo = getattr(fp, "memo", None)
        if memo is not None and len(v) > 8:      # the same index lists recur on many pages
            hit = memo.get(id(v))
            if hit is None:
                sub = _h()
                _feed_items(sub, v, fp, depth + 1)
                hit = memo[id(v)] = (v, sub.digest())   # holds v: its id stays unique
            h.update(b"M%d:" % len(v) + hit[1])
            return
        h.update(b"L%d[" % len(v) if t is list else b"T%d[" % len(v))
        _feed_items(h, v, fp, depth + 1)
        h.update(b"]")
    elif v is None or t is bool or t is int or t is float:
        h.update(f"{t.__name__}:{v!r};".encode())
    elif isinstance(v, str):             # Markup and other str subclasses render differently
        b = str(v).encode("utf-8", "surrogatepass")
        h.update(f"{t.__name__}{len(b)}:".encode())
        h.update(b)
    elif isinstance(v, bytes):
        h.update(b"bytes%d:" % len(v))
        h.update(v)
    elif t.__name__ in ("Document", "Site") and t.__module__.startswith("studylog."):
        h.update(t.__name__[0].encode() + fp(v).encode())
    elif isinstance(v, (list, tuple)):
        feed(h, list(v), fp, depth + 1)
    elif isinstance(v, dict):
        if depth > 60:
            raise Uncacheable("too deep")
        h.update(f"{t.__name__}{len(v)}{{".encode())
        for k, x in v.items():       # insertion order: templates iterate in this order
            if type(k) is str and type(x) is str:   # the common case, without two calls
                kb, xb = k.encode("utf-8", "surrogatepass"), x.encode("utf-8", "surrogatepass")
                h.update(b"s%d:%bs%d:%b" % (len(kb), kb, len(xb), xb))
            else:
                feed(h, k, fp, depth + 1)
                feed(h, x, fp, depth + 1)
        h.update(b"}")
    elif isinstance(v, (set, frozenset)):
        parts = []
        for x in v:
            sub = _h()
            feed(sub, x, fp, depth + 1)
            parts.append(sub.digest())
        h.update(f"set{len(v)}:".encode() + b"".join(sorted(parts)))
    elif isinstance(v, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        h.update(repr(v).encode())
    elif isinstance(v, Path):
        h.update(f"Path:{v}:".encode())
        try:
            if v.is_file():
                h.update(FILES.hash(v).encode())
        except OSError:
            raise Uncacheable(f"cannot read {v}")
    elif hasattr(t, "__fingerprint__"):
        # an object that knows what of it a page can show (accumulate.Accumulated, an
        # experiment's view): that value; it names the documents it lists by the `listing`
        # function it is given (their front matter, URL and summary, not their bodies)
        # the same object is on many pages (every tag page); one whose value names documents
        # only through `listing` digests the same under either of a build's Memos: shared
        memo = getattr(fp, "fmemo" if getattr(t, "__fingerprint_by_listing__", False) else "memo", None)
        hit = memo.get(("F", id(v))) if memo is not None else None
        if hit is None:
            sub = _h()
            feed(sub, v.__fingerprint__(getattr(fp, "listing", fp)), fp, depth + 1)
            hit = (v, sub.digest())
            if memo is not None:
                memo[("F", id(v))] = hit
        h.update(b"F" + hit[1])
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        if depth > 60:
            raise Uncacheable("too deep")
        head, names = _dataclass_shape(t)
        h.update(head)
        for name, label in names:
            h.update(label)
            feed(h, getattr(v, name), fp, depth + 1)
        h.update(b")")
    else:
        r = repr(v)
        if " at 0x" in r or r.startswith("<"):
            raise Uncacheable(f"cannot fingerprint {t.__qualname__}")
        h.update(f"{t.__module__}.{t.__qualname__}:{r};".encode())


@functools.lru_cache(maxsize=None)
def _dataclass_shape(t: type) -> tuple[bytes, tuple[tuple[str, bytes], ...]]:
    """How feed() opens a dataclass and names each field (asked once per class, not per value)."""
    names = tuple((f.name, f.name.encode() + b"=") for f in dataclasses.fields(t))
    return f"{t.__module__}.{t.__qualname__}(".encode(), names


@functools.lru_cache(maxsize=None)
def _field_names(t: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(t))


def _feed_items(h, items, fp, depth: int) -> None:
    """feed() each item; strings and documents (most items) without a call each."""
    for x in items:
        t = type(x)
        if t is str:
            b = x.encode("utf-8", "surrogatepass")
            h.update(b"s%d:%b" % (len(b), b))
        elif t is _Document:
            h.update(b"D" + fp(x).encode())
        else:
            feed(h, x, fp, depth)


class Memo:
    """A fingerprint function for documents, with a memo of list digests for one build, and
    `fmemo`, shared by the build's two Memos: the digests of objects whose __fingerprint__
    names documents only through `listing` (__fingerprint_by_listing__), the same for both."""

    def __init__(self, fn: Callable[[Any], str], fmemo: dict | None = None):
        self.fn, self.memo = fn, {}
        self.fmemo = {} if fmemo is None else fmemo

    def __call__(self, doc) -> str:
        return self.fn(doc)


def digest(v: Any, fp: Callable[[Any], str]) -> str:
    h = _h()
    feed(h, v, fp)
    return h.hexdigest()


# --- file hashes by stat --------------------------------------------------------------------

class FileHashes:
    """Content hashes of input files, reused while (size, mtime, inode, ctime) are unchanged."""

    def __init__(self) -> None:
        self.old: dict[str, tuple] = {}
        self.new: dict[str, tuple] = {}

    def hash(self, path: Path) -> str:
        key = str(path)
        hit = self.new.get(key)
        if hit is not None:
            return hit[1]
        st = os.stat(path)
        sig = stat_sig(st)
        note_read(path, st)
        old = self.old.get(key)
        if old is not None and old[0] == sig:
            value = old[1]
        else:
            value = hash_bytes(Path(path).read_bytes())
        self.new[key] = (sig, value)
        return value


FILES = FileHashes()   # one per process; a build resets it from its manifest


# --- templates --------------------------------------------------------------------------------

KNOWN_GLOBALS = {"config", "urls", "url", "doc_url", "static", "nav", "week_title", "site",
                 "range", "lipsum", "dict", "cycler", "joiner", "namespace", "loop", "self",
                 "varargs", "kwargs", "caller", "true", "false", "none", "True", "False", "None"}
OUR_FILTERS = {"date", "isodate", "month_title", "safe_html"}
# what a listing of documents may not read without depending on their whole body
BODY_ATTRS = {"html", "toc", "body", "body_line", "lines", "references", "line_of", "*"}
# Document fields a listing fingerprint covers (with attributes other code sets on documents)
LISTING_FIELDS = ("rel", "path", "kind", "meta", "title", "slug", "date", "has_time", "tags", "series", "part",
                  "draft", "summary_html", "summary_text")
# name -> function(site) -> a value to fingerprint, for globals other code adds to the Jinja env
GLOBAL_DIGESTS: dict[str, Callable[[Any], Any]] = {}


def analyse_template(source: str, name: str) -> tuple:
    """-> (templates it references or None if computed, names it reads, unknown filters/tests)."""
    import jinja2
    from jinja2 import meta, nodes
    env = jinja2.Environment()
    ast = env.parse(source, name=name)
    refs = list(meta.find_referenced_templates(ast))
    filters = {f.name for f in ast.find_all(nodes.Filter)}
    tests = {t.name for t in ast.find_all(nodes.Test)}
    unknown = (filters - set(env.filters) - OUR_FILTERS) | {f"test:{t}" for t in tests - set(env.tests)}
    for f in filters:                 # the code generator refuses filters it does not know
        env.filters.setdefault(f, lambda *a, **k: None)
    for t in tests:
        env.tests.setdefault(t, lambda *a, **k: None)
    names = set(meta.find_undeclared_variables(ast))
    # names bound at the top (imports, macros, set) count as undeclared inside blocks
    declared = {n.target for n in ast.find_all(nodes.Import)}
    declared |= {(n[1] if isinstance(n, tuple) else n) for imp in ast.find_all(nodes.FromImport) for n in imp.names}
    declared |= {m.name for m in ast.find_all(nodes.Macro)}
    for a in ast.find_all((nodes.Assign, nodes.AssignBlock)):
        declared |= {n.name for n in [a.target, *a.target.find_all(nodes.Name)] if isinstance(n, nodes.Name)}
    names -= declared
    # attributes read off anything but the page's own `doc`: a template that reads a listed
    # document's body (html, toc, ...) needs those documents' full fingerprints
    rebinds_doc = "doc" in declared or any(
        n.name == "doc" for f in ast.find_all((nodes.For, nodes.Macro, nodes.CallBlock))
        for n in ([f.target] if isinstance(f, nodes.For) else list(getattr(f, "args", []))) + (
            list(f.target.find_all(nodes.Name)) if isinstance(f, nodes.For) else [])
        if isinstance(n, nodes.Name))
    body_attrs = set()
    for g in ast.find_all(nodes.Getattr):
        if not (isinstance(g.node, nodes.Name) and g.node.name == "doc" and not rebinds_doc):
            body_attrs.add(g.attr)
    for g in ast.find_all(nodes.Getitem):
        if isinstance(g.arg, nodes.Const) and isinstance(g.arg.value, str):
            if not (isinstance(g.node, nodes.Name) and g.node.name == "doc" and not rebinds_doc):
                body_attrs.add(g.arg.value)
        elif not (isinstance(g.arg, nodes.Const) or _index_arithmetic(g.arg, nodes)):
            body_attrs.add("*")          # d[expr]: could be any attribute
    if "attr" in filters:
        body_attrs.add("*")
    full = bool(body_attrs & BODY_ATTRS)
    return (None if None in refs else tuple(refs), frozenset(names), frozenset(unknown), full)


def _index_arithmetic(node, nodes) -> bool:
    """`parts[i - 1]`: arithmetic on a number, a list index (not `d[name]`, which may be a key)."""
    if isinstance(node, nodes.Const):
        return isinstance(node.value, int)
    if isinstance(node, (nodes.Add, nodes.Sub, nodes.Mul, nodes.FloorDiv, nodes.Mod)):
        consts = [n for n in (node.left, node.right) if isinstance(n, nodes.Const)]
        return bool(consts) and all(isinstance(c.value, int) for c in consts) and all(
            isinstance(n, (nodes.Name, nodes.Const)) or _index_arithmetic(n, nodes) for n in (node.left, node.right))
    if isinstance(node, nodes.Neg):
        return _index_arithmetic(node.node, nodes)
    return False


# --- the manifest -----------------------------------------------------------------------------

@dataclasses.dataclass
class Output:
    """One file of the site and how to make it."""
    key: str | None              # None: made every time
    kind: str                    # "page" (value = index), "bytes" (value = callable -> bytes), "copy" (value = Path)
    value: Any


class BuildCache:
    """Old manifest in, new manifest out; the decisions between them."""

    def __init__(self, out: Path, fresh: bool = False):
        self.out = Path(out).absolute()
        self.dir = cache_dir(self.out)
        self.spare_dir = self.dir / "spare"    # the previous site, updated in place next time
        self.code = code_version()
        self.old: dict = {}
        self.new: dict = {"format": FORMAT, "code": self.code, "docs": {}, "markdown": {},
                          "templates": {}, "outputs": {}}
        self._md_shards: dict[str, dict] = {}   # first hex digit -> {digest: rendering}
        self.md_new: dict[str, tuple] = {}
        self.doc_fp: dict[int, str] = {}
        self.doc_lfp: dict[int, str] = {}
        self._full_fp = Memo(self.fingerprint)
        self._listing_fp = Memo(self.listing, self._full_fp.fmemo)
        self._full_fp.listing = self._listing_fp.listing = self._listing_fp
        self.src_hash: dict[int, str] = {}
        self.md_key: dict[int, str] = {}
        self.md_digest: dict[int, str] = {}
        self._tpl: dict[tuple, tuple] = {}
        self._site_digest: str | None = None
        self.nonce = os.urandom(8).hex()
        if not fresh:
            self._load()
        FILES.old = self.old.get("files", {})
        FILES.new = {}
        from . import mdrefs
        mdrefs.IMAGE_SIZES.update(self.old.get("image_sizes", {}))
        from . import accumulate
        accumulate.SECTIONS.clear()
        accumulate.SECTIONS.update(self.old.get("sections", {}))
        accumulate.SECTIONS_USED.clear()
        accumulate.HTML_HASHES.clear()
        accumulate.ENTRY_DIGESTS.clear()

    def _load(self) -> None:
        try:
            st = os.stat(self.out)
            with open(self.dir / "manifest.pickle", "rb") as f:
                old = pickle.load(f)
        except CACHE_UNREADABLE:
            return
        if not isinstance(old, dict) or old.get("format") != FORMAT:
            return
        if old.get("code") != self.code:
            # other code: keep only the hashes of input files, which do not depend on it
            self.old = {"files": old.get("files", {})}
            return
        if old.get("out_ino") != st.st_ino or old.get("out_dev") != st.st_dev:
            old["outputs"] = {}      # the output folder is not the one this manifest describes
        spare = old.get("spare") or {}
        try:
            sst = os.stat(self.spare_dir)
            ok = spare.get("ino") == (sst.st_ino, sst.st_dev)
        except OSError:
            ok = False
        old["spare"] = spare if ok else {}
        self.old = old

    # --- documents ---
    def parse_all(self, content_dir: Path, tz, errors: list, parse_many=None) -> list:
        """Every content file as a Document: from the cache when its bytes are unchanged, else
        parsed (by `parse_many(paths) -> [(pickled doc or None, errors)]` when given: the
        build parses many in its workers)."""
        from .content import find_sources, parse_document
        env = (str(Path(content_dir).absolute()), str(content_dir), tz.key)
        old = self.old.get("docs", {}) if self.old.get("docs_env") == env else {}
        new = self.new["docs"]
        self.new["docs_env"] = env
        found = []                 # (path, stat, content hash, cached pickle or None)
        for path in find_sources(content_dir):
            try:
                st = os.stat(path)
            except OSError:
                st = None
            rec = old.get(str(path))
            if st is not None:
                note_read(path, st)
            if st is not None and rec is not None and rec[0] == stat_sig(st):
                h, blob = rec[1], rec[2]
            else:
                try:
                    h = hash_bytes(path.read_bytes())
                except OSError:
                    h = None
                blob = rec[2] if rec is not None and h is not None and rec[1] == h else None
            found.append((path, st, h, blob))
        misses = [path for path, _, _, blob in found if blob is None]
        parsed: dict = {}          # path -> (Document or None, its pickle or None)
        if misses and parse_many is not None:
            for path, (blob, errs) in zip(misses, parse_many(misses)):
                parsed[path] = (None, blob)
                errors.extend(errs)
        else:
            parsed = {path: (parse_document(path, content_dir, tz, errors), None) for path in misses}
        docs = []
        for path, st, h, blob in found:
            if blob is not None:
                doc = pickle.loads(blob)
            else:
                doc, blob = parsed[path]
                if doc is None and blob is not None:
                    doc = pickle.loads(blob)
                elif doc is not None and h is not None:
                    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
            if doc is None:
                continue
            if st is not None and h is not None and blob is not None:
                new[str(path)] = (stat_sig(st), h, blob)
            self.src_hash[id(doc)] = h or self.nonce
            docs.append(doc)
        return docs

    # --- markdown ---
    def markdown_key(self, doc, hooks) -> str:
        h = _h()
        h.update(f"{self.code}|{sorted(hooks.links)}|{sorted(hooks.fences)}|{doc.rel}|{doc.kind}|"
                 f"{doc.body_line}|{doc.summary!r}|".encode("utf-8", "surrogatepass"))
        h.update(doc.body.encode("utf-8", "surrogatepass"))
        key = h.hexdigest()
        self.md_key[id(doc)] = key
        return key

    def md_shard(self, digest_: str) -> dict:
        """The stored renderings whose digest starts like `digest_` (16 files, so that
        an edit rewrites one or two small files, not every page's HTML)."""
        n = digest_[:1]
        shard = self._md_shards.get(n)
        if shard is None:
            try:
                with open(self.dir / f"markdown-{n}.pickle", "rb") as f:
                    shard = pickle.load(f)
                if not isinstance(shard, dict) or shard.get("code") != self.code:
                    shard = {}
            except CACHE_UNREADABLE:
                shard = {}
            self._md_shards[n] = shard
        return shard

    def cached_markdown(self, doc, hooks, ctx):
        """A cached rendering whose references still resolve the same, else None."""
        key = self.markdown_key(doc, hooks)
        rec = self.old.get("markdown", {}).get(key)
        if rec is None:
            return None
        deps, result_digest = rec
        stored = self.md_shard(result_digest).get(result_digest)
        if stored is None:
            return None
        from .mdrefs import recheck
        checked = recheck(doc, deps, hooks, ctx)
        if checked is None:
            return None
        references, assets = checked
        from .mdrefs import Rendered
        self.new["markdown"][key] = rec
        self.md_new[result_digest] = stored
        self.md_digest[id(doc)] = result_digest
        html, toc, summary_html, summary_text = stored
        return Rendered(html, toc, summary_html, summary_text, [], assets, references, deps)

    def store_markdown(self, doc, r) -> None:
        key = self.md_key[id(doc)]
        result_digest = digest((r.html, r.toc, r.summary_html, r.summary_text, r.references), str)
        self.md_digest[id(doc)] = result_digest
        if not r.errors:
            self.new["markdown"][key] = (r.deps, result_digest)
            self.md_new[result_digest] = (r.html, r.toc, r.summary_html, r.summary_text)

    # --- fingerprints ---
    def fingerprint(self, doc) -> str:
        fp = self.doc_fp.get(id(doc))
        if fp is None:
            if type(doc).__name__ == "Site":
                return self.site_digest(doc)
            fields = _field_names(type(doc))
            extra = {k: v for k, v in sorted(vars(doc).items()) if k not in fields}
            try:
                fp = digest((self.src_hash.get(id(doc), self.nonce), doc.rel, str(doc.path),
                             self.md_digest.get(id(doc), self.nonce), extra), self._no_nested)
            except Uncacheable:
                fp = self.nonce + str(id(doc))
            self.doc_fp[id(doc)] = fp
        return fp

    def _no_nested(self, doc) -> str:
        return self.fingerprint(doc)

    def site_digest(self, site) -> str:
        """Everything a template could reach through the `site` global."""
        if self._site_digest is None:
            self._site_digest = "site"     # the site reached from inside itself (extra's views)
            try:
                self._site_digest = digest((site.posts, site.pages, site.experiments, site.tags, site.months,
                                            site.weeks, site.series, sorted(site.draft_names),
                                            site.assets, site.extra, [p.path for p in site.pages_out]),
                                           self.fingerprint)
            except Uncacheable:
                self._site_digest = self.nonce
        return self._site_digest

    # --- templates ---
    def template_digest(self, name: str, dirs: list[Path], site, context_names: set) -> str | None:
        """Digest of a template, all it pulls in, and the globals they read; None = uncacheable."""
        key = (name, tuple(context_names))
        if key in self._tpl:
            return self._tpl[key]
        h = _h()
        seen: set[str] = set()
        todo = [name]
        names: set[str] = set()
        ok = True
        full = False
        while todo and ok:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            path = next((d / n for d in dirs if (d / n).is_file()), None)
            if path is None:
                h.update(f"missing:{n};".encode())
                continue
            fh = FILES.hash(path)
            h.update(f"{n}:{path}:{fh};".encode())
            info = self.old.get("templates", {}).get(fh) or self.new["templates"].get(fh)
            if info is None:
                try:
                    info = analyse_template(path.read_text("utf-8"), n)
                except Exception:   # a syntax error: rendering reports it; never cache
                    ok = False
                    break
            self.new["templates"][fh] = info
            refs, used, unknown, needs_full = info
            if refs is None or unknown:
                ok = False
                break
            todo.extend(refs)
            names |= used
            full = full or needs_full
        result = None
        if ok:
            for g in sorted(names - context_names - {"page", "doc", "title"}):
                if g == "site":
                    h.update(b"site:" + self.site_digest(site).encode())
                elif g == "nav":
                    from .render import nav_items
                    h.update(b"nav:" + digest(nav_items(site), str).encode())
                elif g in GLOBAL_DIGESTS:
                    try:
                        h.update(f"{g}:".encode() + digest(GLOBAL_DIGESTS[g](site), self.fingerprint).encode())
                    except Uncacheable:
                        ok = False
                elif g not in KNOWN_GLOBALS:
                    ok = False
            result = (h.hexdigest(), full) if ok else None
        self._tpl[key] = result
        return result

    def page_key(self, page, dirs: list[Path], site, config_digest: str) -> str | None:
        t = self.template_digest(page.template, dirs, site, set(page.context))
        if t is None:
            return None
        tpl, full = t
        try:
            own = self.fingerprint(page.doc) if page.doc is not None else None
            return digest((self.code, config_digest, tpl, own, page), self._full_fp if full else self._listing_fp)
        except Uncacheable:
            return None

    def listing(self, doc) -> str:
        """What a list of documents shows of one: front matter, summary, URL; not its body."""
        fp = self.doc_lfp.get(id(doc))
        if fp is None:
            if type(doc).__name__ == "Site":
                return self.site_digest(doc)
            fields = _field_names(type(doc))
            extra = {k: v for k, v in sorted(vars(doc).items()) if k not in fields}
            # The listed fields are the parse of the source (by its hash, path and docs_env)
            # plus the summaries of its rendering (by the rendering's digest): remembered by
            # those between builds, as hashing a thousand posts' front matter costs ~30 ms.
            src, md = self.src_hash.get(id(doc)), self.md_digest.get(id(doc))
            key = (f"{src}|{md}|{doc.rel}|{doc.path}|{self.new.get('docs_env')}"
                   if src and md and src != self.nonce and md != self.nonce and not extra else None)
            fp = self.old.get("listings", {}).get(key) if key else None
            if fp is None:
                try:
                    # the path as text: a Path would bring in the file's content hash
                    fp = digest(tuple(str(v) if isinstance(v, Path) else v
                                      for v in (getattr(doc, f) for f in LISTING_FIELDS)) + (extra,), self.fingerprint)
                except Uncacheable:
                    fp, key = self.nonce + str(id(doc)), None
            if key:
                self.new.setdefault("listings", {})[key] = fp
            self.doc_lfp[id(doc)] = fp
        return fp

    # --- outputs ---
    def unchanged(self, outputs: dict[str, Output], spare: bool = False) -> set[str]:
        """Outputs whose key matches the manifest and whose old file is as we wrote it
        (in the output, or with spare=True in the spare tree)."""
        old = self.old.get("spare", {}).get("outputs", {}) if spare else self.old.get("outputs", {})
        root = str(self.spare_dir if spare else self.out)
        same = set()
        for rel, o in outputs.items():
            rec = old.get(rel)
            if o.key is None or rec is None or rec[0] != o.key:
                continue
            try:
                st = os.lstat(os.path.join(root, rel))
            except OSError:
                continue
            if out_sig(st) == rec[1]:
                same.add(rel)
        return same

    def exact_tree(self, rels) -> bool:
        """Does the output folder hold exactly these files (no strays, no empty folders)?"""
        want_files = set(rels)
        want_dirs = {""}
        for r in want_files:
            parts = r.split("/")
            for i in range(1, len(parts)):
                want_dirs.add("/".join(parts[:i]))
        n_files = n_dirs = 0
        stack = [("", str(self.out))]
        while stack:
            rel, path = stack.pop()
            if rel not in want_dirs:
                return False
            n_dirs += 1
            try:
                entries = os.scandir(path)
            except OSError:
                return False
            with entries:
                for e in entries:
                    r = f"{rel}/{e.name}" if rel else e.name
                    if e.is_dir(follow_symlinks=False):
                        stack.append((r, e.path))
                    elif r in want_files:
                        n_files += 1
                    else:
                        return False
        return n_files == len(want_files) and n_dirs == len(want_dirs)

    def record_outputs(self, root: Path, outputs: dict[str, Output], untouched: set[str] = frozenset()) -> None:
        """The key and stat of every output in `root`; `untouched`: files of the spare tree
        that unchanged(spare=True) found as recorded and the build left alone."""
        rec = {}
        spare = self.old.get("spare", {}).get("outputs", {})
        root = str(root)
        for rel, o in outputs.items():
            if o.key is not None:
                rec[rel] = (o.key, spare[rel][1] if rel in untouched else out_sig(os.lstat(os.path.join(root, rel))))
        self.new["outputs"] = rec

    def recorded_sigs(self) -> dict[str, tuple]:
        """out_sig of every output recorded for the new manifest, by its path."""
        return {rel: rec[1] for rel, rec in self.new["outputs"].items()}

    def keep_outputs(self, outputs: dict[str, Output]) -> None:
        """Nothing was written: the old records still describe the output (and the spare)."""
        old = self.old.get("outputs", {})
        self.new["outputs"] = {rel: old[rel] for rel in outputs if rel in old}
        self.new["spare"] = self.old.get("spare", {})
        if self.old.get("search"):
            self.new["search"] = self.old["search"]

    # --- the search index (Pagefind writes it over the finished HTML) ---
    def search_key(self, outputs: dict[str, Output], tool: tuple) -> str | None:
        """What the index is made from: every page, and which Pagefind makes it (`tool`)."""
        html = sorted((r, o.key) for r, o in outputs.items() if r.endswith(".html"))
        if any(k is None for _, k in html):
            return None
        return digest((self.code, "search", html, tool), str)

    def search_files(self, key: str | None, spare: bool = False) -> dict | None:
        """The index files the last build made for the same pages, if all still as written."""
        rec = (self.old.get("spare", {}).get("search") if spare else self.old.get("search")) or {}
        if key is None or rec.get("key") != key:
            return None
        root = self.spare_dir if spare else self.out
        for rel, sig in rec["files"].items():
            try:
                if out_sig(os.lstat(root / rel)) != sig:
                    return None
            except OSError:
                return None
        return rec["files"]

    def record_search(self, key: str | None, root: Path, bundle: str) -> dict:
        files = {}
        base = Path(root) / bundle
        for d, _dirs, names in os.walk(base):
            for n in names:
                p = Path(d) / n
                files[p.relative_to(root).as_posix()] = out_sig(os.lstat(p))
        if key is not None:
            self.new["search"] = {"key": key, "files": files}
        return files

    def will_swap(self) -> None:
        """The live output becomes the spare: keep its records for the next build."""
        try:
            st = os.stat(self.out)
        except OSError:
            return
        self.new["spare"] = {"ino": (st.st_ino, st.st_dev), "outputs": self.old.get("outputs", {}),
                             "search": self.old.get("search")}

    def save(self, out_dir: Path, only_if_changed: bool = False) -> None:
        """Write the new manifest for `out_dir` (which becomes the output by an atomic swap)."""
        from . import mdrefs
        if only_if_changed and self.old and all(
                self.new.get(k) == self.old.get(k) for k in ("docs", "markdown", "templates", "outputs", "docs_env", "search")) \
                and FILES.new.items() <= self.old.get("files", {}).items():
            return
        st = os.stat(out_dir)
        self.new["out_ino"], self.new["out_dev"] = st.st_ino, st.st_dev
        self.new["files"] = FILES.new
        self.new["image_sizes"] = {k: v for k, v in mdrefs.IMAGE_SIZES.items()
                                   if k[0] in FILES.new or Path(k[0]).exists()}
        from . import accumulate
        # used this build (every post's, when a page asked for the accumulation), else as before
        self.new["sections"] = dict(accumulate.SECTIONS_USED) or self.old.get("sections", {})
        self.dir.mkdir(parents=True, exist_ok=True)
        shards: dict[str, dict] = {n: {} for n in "0123456789abcdef"}
        for d, rendering in self.md_new.items():
            shards[d[:1]][d] = rendering
        for n, entries in shards.items():   # a shard is written when what it holds changed
            if set(entries) != set(self.md_shard(n)) - {"code"}:
                _atomic_pickle(self.dir / f"markdown-{n}.pickle", {"code": self.code, **entries})
        _atomic_pickle(self.dir / "manifest.pickle", self.new)


def _atomic_pickle(path: Path, value) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- the quick no-op: has anything the last build read changed? --------------------------------
#
# While a build runs, an audit hook notes every file it opens for reading (Python's `open`
# event: content, templates, results, imported modules alike) and every folder it lists, with
# their stat at that moment (before the read, so a change during the build is seen next time).
# The content, template and results folders are stat'ed too, so an added file is seen even
# where the build only asked "does it exist?". If none of these changed, the options are the
# same, and the output is exactly as written, the build has nothing to do and stops there,
# before importing the renderers. Files modified within RACY_NS of being stat'ed are not
# trusted (coarse file-system clocks), nor are reads in processes that do not report back.

RACY_NS = 50_000_000
_REC: dict | None = None         # path -> sig while recording
_EXCLUDE: tuple[str, ...] = ()
_HOOKED = False
_OUT_EXACT: set[str] = set()
_PSEUDO = ("/proc/", "/sys/", "/dev/")


def _sig_now(path: str, dir_: bool = False):
    try:
        st = os.stat(path)
    except OSError:
        return None
    if time.time_ns() - st.st_mtime_ns < RACY_NS:
        return "racy"
    return (st.st_mtime_ns, st.st_ino) if dir_ else stat_sig(st)


def _audit(event: str, args) -> None:
    rec = _REC
    if rec is None:
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int) or path is None:
            return
        if mode is not None:
            if any(c in mode for c in "wax+"):
                return
        elif flags is not None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            return
        dir_ = False
    elif event in ("os.scandir", "os.listdir"):
        path = args[0]
        if path is None or isinstance(path, int):
            return
        dir_ = True
    else:
        return
    try:
        p = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    key = ("d:" if dir_ else "f:") + p
    if key in rec or p.startswith(_PSEUDO) or p.startswith(_EXCLUDE) or p in _OUT_EXACT:
        return
    rec[key] = _sig_now(p, dir_)
    if not dir_:
        parent = os.path.dirname(p)
        if "d:" + parent not in rec:
            rec["d:" + parent] = _sig_now(parent, True)


def note_read(path, sig_source: os.stat_result | None = None) -> None:
    """Count a file as read though it was not opened (its content came from a cache by stat)."""
    rec = _REC
    if rec is None:
        return
    p = os.path.abspath(os.fsdecode(path))
    key = "f:" + p
    if key in rec or p.startswith(_EXCLUDE):
        return
    if sig_source is not None and time.time_ns() - sig_source.st_mtime_ns >= RACY_NS:
        rec[key] = stat_sig(sig_source)
    else:
        rec[key] = _sig_now(p)
    parent = os.path.dirname(p)
    if "d:" + parent not in rec:
        rec["d:" + parent] = _sig_now(parent, True)


def start_recording(out: Path, roots: list[Path]) -> None:
    """Begin noting what this build reads; `roots` are walked now (folders: stat only)."""
    global _REC, _EXCLUDE, _HOOKED
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True
    out = Path(out).absolute()
    _EXCLUDE = (str(out) + os.sep, str(out.parent / CACHE_DIR) + os.sep, str(out.parent / f".{out.name}."))
    _OUT_EXACT.clear()
    _OUT_EXACT.add(str(out))
    _REC = {}
    for root in roots:
        root = Path(root).absolute()
        if not root.is_dir():
            _REC["d:" + str(root.parent)] = _sig_now(str(root.parent), True)
            continue
        for d, dirs, _files in os.walk(root):
            _REC["d:" + d] = _sig_now(d, True)
    for p in PACKAGE.rglob("*.py"):           # our own code, imported before recording began
        _REC["f:" + str(p)] = _sig_now(str(p))


def take_recorded() -> dict:
    """What this process noted since the last call (forked workers send it back)."""
    global _REC
    rec = _REC or {}
    if _REC is not None:
        _REC = {}
    return rec


def merge_recorded(more: dict) -> None:
    if _REC is not None:
        for k, v in more.items():
            _REC.setdefault(k, v)


def stop_recording() -> dict | None:
    global _REC
    rec, _REC = _REC, None
    return rec


def quick_path(out: Path) -> Path:
    return cache_dir(out) / "inputs.pickle"


def save_inputs(out: Path, options: tuple, out_dir: Path, outputs: dict, summary: dict) -> None:
    rec = stop_recording()
    if os.environ.get("STUDYLOG_DEBUG_QUICK"):
        print("racy:", [k for k, v in (rec or {}).items() if v == "racy"], file=sys.stderr)
    if rec is None or any(v == "racy" for v in rec.values()):
        try:
            os.unlink(quick_path(out))
        except OSError:
            pass
        return
    st = os.stat(out_dir)
    _atomic_pickle(quick_path(out), {"format": FORMAT, "options": options, "out": (st.st_ino, st.st_dev),
                                     "inputs": rec, "outputs": outputs, "summary": summary})


def up_to_date(out: Path, options: tuple) -> dict | None:
    """The last build's summary when nothing it read has changed and `out` is as it left it."""
    try:
        with open(quick_path(out), "rb") as f:
            q = pickle.load(f)
        st = os.stat(out)
    except CACHE_UNREADABLE:
        return None
    if not isinstance(q, dict) or q.get("format") != FORMAT or q.get("options") != options \
            or q.get("out") != (st.st_ino, st.st_dev):
        return None
    for key, sig in q["inputs"].items():
        if sig is None:
            if os.path.exists(key[2:]):
                return None
        elif _sig_now(key[2:], key.startswith("d:")) != sig:
            if os.environ.get("STUDYLOG_DEBUG_QUICK"):
                print("changed:", key, sig, _sig_now(key[2:], key.startswith("d:")), file=sys.stderr)
            return None
    root = Path(out).absolute()
    for rel, sig in q["outputs"].items():
        try:
            if out_sig(os.lstat(root / rel)) != sig:
                return None
        except OSError:
            return None
    probe = BuildCache.__new__(BuildCache)
    probe.out = root
    if not probe.exact_tree(q["outputs"]):
        return None
    return q["summary"]
