"""The link check every build runs over its whole new output, before it replaces the old one.

Every internal link must name a file of the new site: `href`, `src`, `srcset` and `poster` in
every HTML page, `<link href>` in the Atom feed, `<loc>` in the sitemap; a `#fragment` must name
an element id (or `<a name>`) of the target page. A broken one fails the build, reported at the
Markdown line it came from when it came from a document's text, else at the output page's line.

"Internal" means: relative, root-relative, or absolute on the site's own origin under its base
path. Root-relative links outside the base path are broken (on GitHub Pages they would leave the
project site); write the full https:// URL to link elsewhere on the same host. Links with an
unknown scheme (`post:`/`exp:` that no handler resolved, a typo such as `htps:`) are broken too.
"""
from __future__ import annotations

import html as htmllib
import os
import pickle
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from .errors import BuildError, display_path
from .urls import output_file

EXTERNAL_SCHEMES = {"http", "https", "mailto", "tel", "data", "ftp", "ftps", "irc", "news", "javascript", "sms", "geo", "xmpp"}
LINK_ATTRS = ("href", "src", "poster")
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
FAKE_HOST = "studylog.invalid"   # stands in for the origin when resolving relative links


@dataclass
class _Page:
    links: list[tuple[str, int]] = field(default_factory=list)   # (url, offset in the output file)
    ids: set[str] = field(default_factory=set)
    text: str = ""
    path: str = ""       # where to read the text from when a cached page needs a line number
    # from the last build, for a page carried over unchanged: where its links went when they
    # were all good ([(target file, fragment)]), or None (check it link by link)
    good_targets: list[tuple[str, str]] | None = None
    unchanged: bool = False

    def line(self, offset: int) -> int:
        if not self.text and self.path:
            self.text = Path(self.path).read_text(encoding="utf-8", errors="replace")
        return self.text.count("\n", 0, offset) + 1


# A tag-level scanner (the output is ours: well-formed, attributes quoted by Jinja/Markdown), about
# 20x faster than html.parser; comments and the raw text of <script>/<style>/<textarea> are skipped.
_SKIP = re.compile(r"<!--.*?-->|<(script|style|textarea|title)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_ATTR = re.compile(r"""\s(id|name|href|src|srcset|imagesrcset|poster)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")


def scan_html(text: str) -> _Page:
    """Links and ids of a page: each wanted attribute found by one regex pass (C speed), kept
    only when it sits inside a tag (not in text such as `href="x"` written in a code span)."""
    page = _Page(text=text)
    masked = _SKIP.sub(_keep_open_tag, text) if ("<!--" in text or "<script" in text or "<style" in text
                                                  or "<textarea" in text or "<title" in text) else text
    rfind = masked.rfind
    for m in _ATTR.finditer(masked):
        pos = m.start()
        lt = rfind("<", 0, pos)
        if lt < 0 or rfind(">", lt, pos) >= 0:
            continue                      # in text, not in a tag
        name = m.group(1).lower()
        value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        if "&" in value:
            value = htmllib.unescape(value)
        if name == "id":
            page.ids.add(value)
            continue
        tag = _TAG_NAME.match(masked, lt)
        tag = tag.group(1).lower() if tag else ""
        if name == "name":
            if tag == "a":
                page.ids.add(value)
        elif name in ("href", "src", "poster"):
            if tag == "base" or (tag == "link" and not value.strip()):
                continue
            page.links.append((sys.intern(value.strip()), lt))
        else:   # srcset, imagesrcset
            for cand in value.split(","):
                url = cand.strip().split(" ")[0] if cand.strip() else ""
                if url:
                    page.links.append((sys.intern(url), lt))
    return page


def _keep_open_tag(m) -> str:
    """Blank a skipped span but keep its opening tag (a <script src> is a link) and its length
    (offsets stay line-true)."""
    whole = m.group(0)
    if m.group(1) is None:
        return re.sub(r"[^\n]", " ", whole)
    end = whole.index(">") + 1
    return whole[:end] + re.sub(r"[^\n]", " ", whole[end:])


def _xml_links(path: Path) -> list[tuple[str, int]]:
    """Feed and sitemap links (line numbers are approximate: the element's order)."""
    out: list[tuple[str, int]] = []
    try:
        data = path.read_bytes()
        root = ET.fromstring(data)
    except (OSError, ET.ParseError) as e:
        return [(f"\0not well-formed XML: {e}", 1)]
    lines = data.decode("utf-8", "replace").split("\n")

    def line_of(needle: str, start=[0]) -> int:
        for i in range(start[0], len(lines)):
            if needle in lines[i]:
                start[0] = i
                return i + 1
        return 1
    for el in root.iter():
        if el.tag == f"{ATOM}link" and el.get("href"):
            out.append((el.get("href"), line_of(el.get("href").replace("&", "&amp;"))))
        elif el.tag == f"{SITEMAP}loc" and el.text:
            out.append((el.text.strip(), line_of(el.text.strip().replace("&", "&amp;"))))
    return out


def _load(cache: Path | None) -> dict:
    if cache is None:
        return {}
    try:
        with open(cache, "rb") as f:
            data = pickle.load(f)
        return data if isinstance(data, dict) and data.get("version") == CACHE_VERSION else {}
    except Exception:        # missing, truncated, from another version: scan again
        return {}


def _save(cache: Path, entries: dict) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"version": CACHE_VERSION, "pages": entries}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass                 # a cache only: the next build scans again


CACHE_VERSION = 2


def scan_tree(root: Path, cache: Path | None = None, present: set[str] | None = None) -> dict[str, _Page]:
    """Every page's links and ids. With `cache`, a page whose file is the same (inode, size,
    mtime: an incremental build links unchanged pages into the new tree) is not read again.
    `present` receives the relative path of every file and folder of the tree."""
    old = _load(cache).get("pages", {})
    pages: dict[str, _Page] = {}
    entries = {}
    root_s = str(root)
    for dirpath, dirs, files in os.walk(root):
        top = os.path.relpath(dirpath, root_s).replace(os.sep, "/")
        top = "" if top == "." else top + "/"
        if present is not None:
            present.update(top + n for n in files)
            present.update(top + n + "/" for n in dirs)
        for name in files:
            if not name.endswith(".html"):
                continue
            f = os.path.join(dirpath, name)
            rel = top + name
            st = os.stat(f)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            hit = old.get(rel)
            if hit is not None and hit[0] == key:
                page = _Page(hit[1], hit[2], path=f, good_targets=hit[3], unchanged=True)
            else:
                with open(f, encoding="utf-8", errors="replace") as fh:
                    page = scan_html(fh.read())
                page.path = f
            pages[rel] = page
            entries[rel] = [key, page.links, page.ids, None]
    if cache is not None:
        cache_entries[cache] = entries      # check() fills in the good targets, then saves
    return pages


cache_entries: dict[Path, dict] = {}


def check(root: Path, site, *, shown_as: Path | None = None, cache: Path | None = None) -> list[BuildError]:
    """Every broken internal link of the site written under `root` (the new tree before the
    swap). `shown_as`: the folder the errors name (the real output folder); `cache`: a file
    that remembers each page's links by (inode, size, mtime) between builds."""
    root = Path(root)
    shown = Path(shown_as) if shown_as is not None else root
    urls = site.urls
    prefix = urls.prefix
    origin = urlsplit(urls.origin)
    present: set[str] = set()      # every file ("a/b.png") and folder ("a/") of the tree
    pages = scan_tree(root, cache, present)
    docs = {output_file(p.path): p.doc for p in site.pages_out if p.doc is not None}
    errors: list[BuildError] = []

    def resolve(url: str, page_rel: str) -> tuple[str | None, str, str | None]:
        """-> (output file relative to root or None if external, fragment, problem)."""
        if url.startswith(prefix) and not any(c in url for c in "?#%\\") and "/." not in url:
            rel = url[len(prefix):]     # the common case: a plain root-relative link of ours
            if rel == "" or rel.endswith("/") or rel + "/" in present:
                rel = (rel.rstrip("/") + "/index.html").lstrip("/")
            if rel in present:
                return rel, "", None
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme and scheme not in ("http", "https"):
            if scheme in EXTERNAL_SCHEMES:
                return None, "", None
            return None, "", f"unresolved {scheme}: link (no such scheme or reference)"
        if scheme or parts.netloc:
            if (parts.netloc.lower() != origin.netloc.lower()
                    or not unquote(parts.path or "/").startswith(prefix)):
                return None, "", None   # another site, or another project on this host
            path = unquote(parts.path or "/")
        else:
            base = f"http://{FAKE_HOST}{urls.href(page_rel) if page_rel else prefix}"
            path = unquote(urlsplit(urljoin(base, url)).path)
            if not path.startswith(prefix):
                return None, "", (f"points outside the site's base path {prefix}"
                                  " (write the full https:// URL to link elsewhere on this host)")
        rel = path[len(prefix):]
        if rel == "" or rel.endswith("/") or rel + "/" in present:
            rel = (rel.rstrip("/") + "/index.html").lstrip("/")
        if ".." in rel.split("/") or rel not in present:
            return None, "", f"no such file in the site: /{rel}"
        return rel, unquote(parts.fragment), None

    def report(page_rel: str, line: int, url: str, problem: str) -> None:
        where = display_path(shown / page_rel)
        doc = docs.get(page_rel)
        if doc is not None:
            src_line = _source_line(doc, url)
            if src_line:
                errors.append(BuildError(display_path(doc.path), src_line,
                                         f"broken link {url!r} (in {where}): {problem}"))
                return
        errors.append(BuildError(where, line, f"broken link {url!r}: {problem}"))

    seen: dict = {}   # resolved links: most pages share the nav, tag and static links
    entries = cache_entries.pop(cache, None) if cache is not None else None
    ident = (prefix, urls.origin)     # a cached verdict holds for this base URL only
    for page_rel, page in sorted(pages.items()):
        if page.unchanged and page.good_targets is not None and page.good_targets[0] == ident and all(
                t in present and (not frag or (t in pages and frag in pages[t].ids))
                for t, frag in page.good_targets[1]):
            # carried over unchanged, every link good last time, and every target still there
            # with the ids it pointed at: nothing to resolve again
            if entries is not None:
                entries[page_rel][3] = page.good_targets
            continue
        n_errors = len(errors)
        targets: list[tuple[str, str]] = []
        here = _page_url_path(page_rel)
        for url, offset in page.links:
            if url.startswith("#") and len(url) > 1:   # fast path: an anchor on this page
                if unquote(url[1:]) not in page.ids:
                    report(page_rel, page.line(offset), url, f"no element with id {unquote(url[1:])!r} on this page")
                continue
            key = (here, url) if not url.startswith(("/", "http:", "https:")) else url
            hit = seen.get(key)
            if hit is None:
                hit = seen[key] = resolve(url, here)
            target, frag, problem = hit
            if problem:
                report(page_rel, page.line(offset), url, problem)
            elif target and frag and target.endswith(".html"):
                ids = pages[target].ids if target in pages else set()
                if frag not in ids:
                    report(page_rel, page.line(offset), url, f"no element with id {frag!r} on /{target}")
                targets.append((target, frag))
            elif target:
                targets.append((target, ""))
        if entries is not None and len(errors) == n_errors:
            entries[page_rel][3] = (ident, list(dict.fromkeys(targets)))
    if entries is not None:
        _save(cache, entries)
    for kind in ("feed", "sitemap"):
        rel = urls.path_of(kind)
        f = root / rel
        if not f.is_file():
            continue
        for url, line in _xml_links(f):
            if url.startswith("\0"):
                errors.append(BuildError(display_path(shown / rel), line, url[1:]))
                continue
            target, frag, problem = resolve(url, "")
            if problem:
                errors.append(BuildError(display_path(shown / rel), line, f"broken link {url!r}: {problem}"))
            elif target is None and urlsplit(url).scheme in ("http", "https") and \
                    urlsplit(url).netloc.lower() != origin.netloc.lower():
                errors.append(BuildError(display_path(shown / rel), line,
                                         f"link {url!r} is not on the site's own origin {urls.origin}"))
    return sorted(set(errors))


def _page_url_path(page_rel: str) -> str:
    """Output file -> the URL path it is served at, relative to the base ('posts/x/index.html' -> 'posts/x/')."""
    return page_rel[: -len("index.html")] if page_rel.endswith("index.html") else page_rel


def _source_line(doc, url: str) -> int | None:
    """The line of the Markdown text a link in the document's page came from, if it is there."""
    body = doc.body or ""
    candidates = [url, unquote(url)]
    frag = urlsplit(url).fragment
    if frag:
        candidates += ["#" + frag, "#" + unquote(frag)]
    for c in candidates:
        pos = body.find("(" + c) if ("(" + c) in body else body.find(c)
        if pos >= 0 and c:
            return doc.body_line + body.count("\n", 0, pos)
    return None


def check_links(site, tree: Path, out: Path) -> None:
    """The build's gate: raise ContentError naming every broken internal link of `tree`."""
    from .errors import ContentError
    out = Path(out).absolute()
    errors = check(tree, site, shown_as=out, cache=out.parent / ".studylog-cache" / out.name / "linkcheck.pickle")
    if errors:
        raise ContentError(errors)
