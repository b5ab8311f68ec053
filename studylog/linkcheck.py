"""The link check every build runs over its whole new output, before it replaces the old one.

Every internal link must name a file of the new site: `href`, `src`, `srcset` and `poster` in
every HTML page, `<link href>` in the Atom feed, `<loc>` in the sitemap; a `#fragment` must name
an element id (or `<a name>`) of the target page. A broken one fails the build, reported where
the user wrote it: its Markdown line, its front-matter key, or the template override (with the
page); only a link none of these spells is reported at a line of the new page, which a failed
build never publishes.

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
from html.parser import attrfind_tolerant, tagfind_tolerant   # the stdlib parser's attribute grammar
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from .errors import BuildError, display_path
from .manifest import out_sig
from .mdrefs import blank_code
from .urls import output_file

EXTERNAL_SCHEMES = {"http", "https", "mailto", "tel", "data", "ftp", "ftps", "irc", "news", "javascript", "sms", "geo", "xmpp"}
LINK_ATTRS = ("href", "src", "poster")
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
FAKE_HOST = "studylog.invalid"   # stands in for the origin when resolving relative links


@dataclass
class _Page:
    # (url, offset in the output file); None for a page carried over whose links need no check
    links: list[tuple[str, int]] | None = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    text: str = ""
    path: str = ""       # where to read the text from when a cached page needs a line number
    # from the last build, for a page carried over unchanged: where its links went when they
    # were all good ([(target file, fragment)]), or None (check it link by link)
    good_targets: list[tuple[str, str]] | None = None
    unchanged: bool = False

    def load(self) -> str:
        if not self.text and self.path:
            self.text = Path(self.path).read_text(encoding="utf-8", errors="replace")
        return self.text


# A tag-level scanner (the output is ours: well-formed, attributes quoted by Jinja/Markdown), about
# 20x faster than html.parser; comments and the raw text of <script>/<style>/<textarea> are skipped.
_SKIP = re.compile(r"<!--.*?-->|<(script|style|textarea|title)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_ATTR = re.compile(r"""\s(id|name|href|src|srcset|imagesrcset|poster)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")


def scan_html(text: str) -> _Page:
    """Links and ids of a page: each wanted attribute found by one regex pass (C speed), kept
    only when it is an attribute of a tag (not text such as `href="x"` in a code span, nor the
    inside of another attribute's value such as title="... href=x ...")."""
    page = _Page(text=text)
    masked = _SKIP.sub(_keep_open_tag, text) if ("<!--" in text or "<script" in text or "<style" in text
                                                  or "<textarea" in text or "<title" in text) else text
    for m, lt in _attributes(masked):
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


def _attributes(masked: str):
    """(match, start of its tag) of each _ATTR match that is an attribute of a tag, not text
    nor the inside of another attribute's value."""
    search, rfind, find = _ATTR.search, masked.rfind, masked.find
    parsed: dict[int, set[int]] = {}    # tag start -> where its attribute names start
    m = search(masked)
    while m is not None:
        pos = m.start(1)
        lt = rfind("<", 0, pos)
        if lt < 0:
            real = False
        elif find("'", lt, pos) < 0 and find(">", lt, pos) < 0:
            # the common case, decided without parsing: with only "-quoted values before it (and
            # bare values, which cannot hold a quote), it is inside a value iff the quotes are odd
            real = masked.count('"', lt, pos) % 2 == 0
        else:
            real = pos in _attribute_starts(masked, lt, parsed)
        if real:
            yield m, lt
        # a false match may have run over a real attribute (title="x src=" href="y"): look again
        m = search(masked, m.end() if real else pos)


def _attribute_starts(text: str, lt: int, parsed: dict[int, set[int]]) -> set[int]:
    """Where the attribute names of the tag at `lt` start, parsed as html.parser does."""
    starts = parsed.get(lt)
    if starts is None:
        starts = parsed[lt] = set()
        m = tagfind_tolerant.match(text, lt + 1)
        k = m.end() if m else len(text)
        while (a := attrfind_tolerant.match(text, k)) is not None:
            starts.add(a.start(1))
            k = a.end()
    return starts


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


def _save(cache: Path, entries: dict, xml: dict) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"version": CACHE_VERSION, "pages": entries, "xml": xml}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass                 # a cache only: the next build scans again


CACHE_VERSION = 4     # 4: a page's links are not kept (read again only if a target went)


def scan_tree(root: Path, cache: Path | None = None, present: set[str] | None = None,
              scanned: dict[str, tuple] | None = None, files: set[str] | None = None,
              sigs: dict[str, tuple] | None = None) -> dict[str, _Page]:
    """Every page's links and ids. With `cache`, a page whose file is the same (size, mtime,
    inode: an incremental build links unchanged pages into the new tree) is not read again;
    nor is one in `scanned` ({rel: (links, ids)}: scanned by the worker that rendered it).
    `files`: every file of the tree, as the build made it (else the tree is walked); `sigs`:
    manifest.out_sig of those it has already stat'ed. `present` receives the relative path of
    every file and folder of the tree."""
    scanned = scanned or {}
    sigs = sigs or {}
    data = _load(cache)
    old = data.get("pages", {})
    pages: dict[str, _Page] = {}
    entries = {}
    root_s = str(root)
    walked = files is None
    if walked:
        files = set()
        for dirpath, dirs, names in os.walk(root):
            top = os.path.relpath(dirpath, root_s).replace(os.sep, "/")
            top = "" if top == "." else top + "/"
            files.update(top + n for n in names)
            if present is not None:
                present.update(top + n + "/" for n in dirs)
    elif present is not None:
        for rel in files:
            parts = rel.split("/")
            present.update("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
    if present is not None:
        present.update(files)
    for rel in files:
        html = rel.endswith(".html")
        sig = sigs.get(rel)
        f = os.path.join(root_s, rel)
        if sig is None and (html or not walked):
            sig = out_sig(os.stat(f))   # also proves that a file the build says it made is there
        if not html:
            continue
        hit = old.get(rel)
        if rel in scanned:         # rendered this build: what the worker saw is the file
            page = _Page(*scanned[rel], path=f)
        elif hit is not None and hit[0] == sig:
            page = _Page(None, hit[1], path=f, good_targets=hit[2], unchanged=True)
        else:
            with open(f, encoding="utf-8", errors="replace") as fh:
                page = scan_html(fh.read())
            page.path = f
        pages[rel] = page
        entries[rel] = [sig, page.ids, None]
    if cache is not None:
        cache_entries[cache] = entries      # check() fills in the good targets, then saves
        cache_xml[cache] = data.get("xml", {})
    return pages


cache_entries: dict[Path, dict] = {}
cache_xml: dict[Path, dict] = {}     # the feed's and the sitemap's verdicts, by file


def check(root: Path, site, *, shown_as: Path | None = None, cache: Path | None = None,
          scanned: dict[str, tuple] | None = None, files: set[str] | None = None,
          sigs: dict[str, tuple] | None = None) -> list[BuildError]:
    """Every broken internal link of the site written under `root` (the new tree before the
    swap). `shown_as`: the folder the errors name (the real output folder); `cache`: a file
    that remembers each page's ids and link targets by (size, mtime, inode) between builds;
    `scanned`, `files`, `sigs`: what the build already knows (scan_tree)."""
    root = Path(root)
    shown = Path(shown_as) if shown_as is not None else root
    urls = site.urls
    prefix = urls.prefix
    origin = urlsplit(urls.origin)
    present: set[str] = set()      # every file ("a/b.png") and folder ("a/") of the tree
    pages = scan_tree(root, cache, present, scanned, files, sigs)
    made_by = {output_file(p.path): p for p in site.pages_out}
    errors: list[BuildError] = []
    overrides: list[tuple[Path, str]] | None = None   # content/templates/, read on the first need

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

    def report(page_rel: str, page: _Page, broken: list[tuple[int, str, str]]) -> None:
        """A page's broken links [(index in page.links, url, problem)], each at what the user
        wrote: the Markdown line, the front-matter key, or the page and the template override
        (not the new page's line: a failed build never publishes it)."""
        nonlocal overrides
        where = display_path(shown / page_rel)
        made = made_by.get(page_rel)
        doc = made.doc if made is not None else None
        lines = _body_lines(page, doc) if doc is not None else {}
        for i, url, problem in broken:
            if i in lines:
                errors.append(BuildError(display_path(doc.path), lines[i], f"broken link {url!r} (in {where}): {problem}"))
                continue
            key = _front_matter_key(doc.meta, url) if doc is not None else None
            if key is not None:
                errors.append(BuildError(display_path(doc.path), doc.line_of(key), f"broken link {url!r} "
                                         f"(in {where}, from front matter {'.'.join(map(str, key))!r}): {problem}"))
                continue
            if made is not None:
                if overrides is None:
                    overrides = _template_texts(site.config.content_dir / "templates")
                source = _template_source(overrides, made.template, url)
                if source:
                    errors.append(BuildError(where, 1, f"broken link {url!r}: {problem} ({source})"))
                    continue
            # spelled by nothing the user wrote (a hand-edited page; a post's link an accumulated
            # list repeats, reported at the post too): the new page's own line is the lead left
            errors.append(BuildError(where, page.load().count("\n", 0, page.links[i][1]) + 1,
                                     f"broken link {url!r}: {problem}"))

    seen: dict = {}   # resolved links: most pages share the nav, tag and static links
    entries = cache_entries.pop(cache, None) if cache is not None else None
    ident = (prefix, urls.origin)     # a cached verdict holds for this base URL only
    carried = [p for p in pages.values()
               if p.unchanged and p.good_targets is not None and p.good_targets[0] == ident]
    # (target, fragment) pairs the carried-over pages' good links went to that are gone now
    gone = {(t, frag) for t, frag in set().union(*(p.good_targets[1] for p in carried))
            if t not in present or (frag and (t not in pages or frag not in pages[t].ids))}
    for page_rel, page in sorted(pages.items()):
        if page.unchanged and page.good_targets is not None and page.good_targets[0] == ident and (
                not gone or gone.isdisjoint(page.good_targets[1])):
            # carried over unchanged, every link good last time, and every target still there
            # with the ids it pointed at: nothing to resolve again
            if entries is not None:
                entries[page_rel][2] = page.good_targets
            continue
        if page.links is None:         # carried over, but something it pointed at changed
            page.links = scan_html(page.load()).links
        broken: list[tuple[int, str, str]] = []
        targets: list[tuple[str, str]] = []
        here = _page_url_path(page_rel)
        for i, (url, _) in enumerate(page.links):
            if url.startswith("#") and len(url) > 1:   # fast path: an anchor on this page
                if unquote(url[1:]) not in page.ids:
                    broken.append((i, url, f"no element with id {unquote(url[1:])!r} on this page"))
                continue
            key = (here, url) if not url.startswith(("/", "http:", "https:")) else url
            hit = seen.get(key)
            if hit is None:
                hit = seen[key] = resolve(url, here)
            target, frag, problem = hit
            if problem:
                broken.append((i, url, problem))
            elif target and frag and target.endswith(".html"):
                ids = pages[target].ids if target in pages else set()
                if frag not in ids:
                    broken.append((i, url, f"no element with id {frag!r} on /{target}"))
                targets.append((target, frag))
            elif target:
                targets.append((target, ""))
        if broken:
            report(page_rel, page, broken)
        elif entries is not None:
            entries[page_rel][2] = (ident, tuple(dict.fromkeys(targets)))
    old_xml = cache_xml.pop(cache, {}) if cache is not None else {}
    xml = {}
    for kind in ("feed", "sitemap"):
        rel = urls.path_of(kind)
        f = root / rel
        try:
            st = os.stat(f)
        except OSError:
            continue
        key = (st.st_ino, st.st_size, st.st_mtime_ns, ident)
        hit = old_xml.get(rel)
        if hit is not None and hit[0] == key and all(t in present for t in hit[1]):
            xml[rel] = hit           # the same file, all good last time, every target still here
            continue
        n_errors, targets = len(errors), []
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
            elif target:
                targets.append(target)
        if len(errors) == n_errors:
            xml[rel] = (key, sorted(set(targets)))
    if entries is not None:
        _save(cache, entries, xml)
    return sorted(set(errors))


def _page_url_path(page_rel: str) -> str:
    """Output file -> the URL path it is served at, relative to the base ('posts/x/index.html' -> 'posts/x/')."""
    return page_rel[: -len("index.html")] if page_rel.endswith("index.html") else page_rel


# A link as written: between the delimiters of a Markdown link, a reference definition, an
# autolink or an HTML attribute. A link the renderer rewrote (post:NAME#x, other.md#x) is found
# by its #fragment right after the target's name (_REWRITTEN).
_OPEN, _CLOSE = r"(?<![^(<\"'=\s])", r"(?![^)>\"'\s,])"
_REWRITTEN = r"(?<=[^(<\"'=\s])"


def _body_lines(page: _Page, doc) -> dict[int, int]:
    """The Markdown line of each link of `page` that came from the document's body (the part of
    the page that is `doc.html`). The HTML keeps the Markdown's order of links, so each link
    takes the next unused occurrence of its text, or of its #fragment, in the Markdown; a link
    the Markdown does not spell (made by a fence) gets the line of the link before it."""
    text, html, body = page.load(), doc.html, blank_code(doc.body or "")
    start = text.find(html) if html else -1
    end = start + len(html)
    cursors: dict[tuple[str, str], int] = {}
    lines: dict[int, int] = {}
    line = doc.body_line
    for i, (url, offset) in enumerate(page.links):
        if start >= 0 and not start <= offset < end:
            continue                        # around the body: the template's
        pos = _next_occurrence(body, url, cursors)
        if pos is not None:
            line = doc.body_line + body.count("\n", 0, pos)
        if pos is not None or start >= 0:
            lines[i] = line
    return lines


def _next_occurrence(body: str, url: str, cursors: dict[tuple[str, str], int]) -> int | None:
    """Where in `body` the link was written: the next occurrence after the last one taken
    (`cursors`: by the link's text, or by its fragment for a rewritten link)."""
    frag = url.partition("#")[2]
    rewritten = {"#" + frag, "#" + unquote(frag)} if frag and not url.startswith("#") else set()
    for key, texts, before in ((("=", url), {url, unquote(url), htmllib.escape(url, quote=False)}, _OPEN),
                               (("#", frag), rewritten, _REWRITTEN)):
        if not texts:
            continue
        alternatives = "|".join(map(re.escape, sorted(texts, key=len, reverse=True)))
        pattern = re.compile(f"{before}(?:{alternatives}){_CLOSE}")
        m = pattern.search(body, cursors.get(key, 0))
        if m is not None:
            cursors[key] = m.end()
            return m.start()
        m = pattern.search(body)          # more links than it was written: its first place
        if m is not None:
            return m.start()
    return None


def _front_matter_key(value, url: str, path: tuple = ()) -> tuple | None:
    """The key path of the front-matter value a template made this link of (the link is the
    value, or starts or ends with it), if any."""
    if isinstance(value, (dict, list)):
        for k, v in value.items() if isinstance(value, dict) else enumerate(value):
            found = _front_matter_key(v, url, path + (k,))
            if found is not None:
                return found
        return None
    v = value.strip() if isinstance(value, str) else ""
    if v and (v in (url, unquote(url)) or len(v) > 2 and (url.startswith(v) or url.endswith(v))):
        return path
    return None


def _template_texts(folder: Path) -> list[tuple[Path, str]]:
    """The template overrides of the content folder."""
    return [(f, f.read_text(encoding="utf-8", errors="replace"))
            for f in sorted(folder.rglob("*.html"))] if folder.is_dir() else []


def _template_source(overrides: list[tuple[Path, str]], name: str, url: str) -> str | None:
    """Where an override spells `url` (the page's own template first), else the page's own
    template when it is overridden (the link was built by an expression), else None."""
    pattern = re.compile(f"{_OPEN}{re.escape(url)}{_CLOSE}")
    own = [f for f, _ in overrides if f.name == name]
    for f, text in sorted(overrides, key=lambda t: t[0].name != name):
        m = pattern.search(text)
        if m is not None:
            return f"from template {display_path(f)}:{text.count(chr(10), 0, m.start()) + 1}"
    return f"on a page of template {display_path(own[0])}" if own else None


def check_links(site, tree: Path, out: Path, scanned: dict[str, tuple] | None = None,
                files: set[str] | None = None, sigs: dict[str, tuple] | None = None) -> None:
    """The build's gate: raise ContentError naming every broken internal link of `tree`."""
    from .errors import ContentError
    out = Path(out).absolute()
    errors = check(tree, site, shown_as=out, cache=out.parent / ".studylog-cache" / out.name / "linkcheck.pickle",
                   scanned=scanned, files=files, sigs=sigs)
    if errors:
        raise ContentError(errors)
