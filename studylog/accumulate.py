"""The accumulated study log: diary sections gathered across every week, and the papers index.

A diary post's sections named in site.toml `[lists]` (default: 読んだ記事 -> /reading/,
参加したイベント -> /events/) are read from the post's *rendered* HTML (so `post:` links are
resolved and math is drawn) as list items. Each item becomes an entry: a title (its leading
link, or the text before a dash or colon) and notes (the rest). Entries that link the same
URL from several weeks merge into one, listing every week. Posts with `paper:` front matter
make the papers page; a paper and the reading entries that link it point at each other, and
both carry the paper note's tags, which the tag pages list.

The pages are planned by `setup` (before the Markdown stage); their data is computed on first
use by a template, after every post's HTML exists.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

from . import htmltree
from .collect import Page, Site
from .config import line_of_entry
from .search import BUNDLE
from .content import Document
from .errors import BuildError, ContentError, display_path
from .slugs import tag_slug
from .urls import iso_week_key

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# separators between an entry's title and its notes, earliest wins
_SEPARATORS = re.compile(r"\s+[—―–-]+\s+|[—―]+|：|:\s")
_LEADING_SEP = re.compile(r"^\s*(?:[—―–\-:：|]+\s*)?")
_ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.I)
_HREF = re.compile(r'<a\b[^>]*\bhref="([^"]*)"')
_A_TAG = re.compile(r"</?a\b[^>]*>")
_ID_ATTR = re.compile(r'\s(?:id|name)="[^"]*"')
_LOCAL_HREF = re.compile(r'(\shref=")#')
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?$", re.I)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def url_key(url: str) -> str:
    """The identity of a linked URL: arXiv abs/pdf/versions are one paper; scheme, 'www.',
    a trailing slash and the fragment do not matter."""
    m = _ARXIV.search(url)
    if m:
        return "arxiv:" + m.group(1).lower()
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", host, path, parts.query, "")).lstrip("/") if host else url.strip()


# --------------------------------------------------------------------------- entries
@dataclass(eq=False)
class Mention:
    """One week's appearance of an entry: the diary, where in it, and that week's notes."""
    doc: Document
    week: str               # ISO week key "2017-W49"
    anchor: str             # id of the section heading in the diary
    notes_html: str
    links: list[str]        # hrefs in the notes (cross-links to notes and papers)
    order: int              # position in the diary's section


@dataclass(eq=False)
class Entry:
    key: str
    title_html: str
    title_text: str
    url: str | None
    mentions: list[Mention] = field(default_factory=list)    # newest week first
    papers: list["Paper"] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "e-" + hashlib.sha1(self.key.encode()).hexdigest()[:10]

    @property
    def latest(self) -> Mention:
        return self.mentions[0]

    @property
    def host(self) -> str:
        if not self.url:
            return ""
        parts = urlsplit(self.url)
        return parts.netloc.removeprefix("www.") if parts.scheme in ("http", "https") else ""

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for p in self.papers for t in p.doc.tags))


@dataclass
class AccList:
    """One accumulated section: its entries newest first, grouped by month."""
    section: str
    slug: str
    entries: list[Entry]

    @property
    def months(self) -> dict[str, list[Entry]]:
        out: dict[str, list[Entry]] = {}
        for e in self.entries:
            out.setdefault(f"{e.latest.doc.date:%Y-%m}", []).append(e)
        return out

    @property
    def weeks(self) -> int:
        return len({m.week for e in self.entries for m in e.mentions})

    def with_tag(self, tag: str) -> list[Entry]:
        key = tag_slug(tag)
        return [e for e in self.entries if any(tag_slug(t) == key for t in e.tags)]


def section_items(doc_html: str, section: str, root: htmltree.Node | None = None):
    """Yield (heading id, li node) for the list items of every section titled `section` (any
    heading level; the section runs to the next heading of the same or a higher level). Only
    the section's own lists count; nested lists stay in the notes. `root`: the parsed html."""
    root = root or htmltree.parse(doc_html)
    want = _norm(section)
    blocks = root.children
    i = 0
    while i < len(blocks):
        h = blocks[i]
        i += 1
        if h.tag not in HEADINGS or _norm(htmltree.text_of(doc_html, h, lambda n: n.has_class("anchor"))) != want:
            continue
        level = int(h.tag[1])
        while i < len(blocks) and not (blocks[i].tag in HEADINGS and int(blocks[i].tag[1]) <= level):
            b = blocks[i]
            i += 1
            if b.tag in ("ul", "ol"):
                for li in b.children:
                    if li.tag == "li":
                        yield h.attrs.get("id", ""), li


def split_entry(src: str, li: htmltree.Node) -> tuple[str, str, str | None, str]:
    """A list item -> (title html, title text, url or None, notes html)."""
    head = li
    first_block = next((c for c in li.children if c.tag in htmltree.BLOCK), None)
    if first_block is not None and first_block.tag == "p" and not src[li.inner_start:first_block.start].strip():
        head = first_block                       # a loose list: the first paragraph is the head
        head_start, head_end = head.inner_start, head.inner_end
        tail = src[first_block.end:li.inner_end].strip()
    else:
        head_start = li.inner_start
        head_end = first_block.start if first_block is not None else li.inner_end
        tail = src[head_end:li.inner_end].strip()
    inline = [c for c in head.children if head_start <= c.start < head_end]
    title_html, url, rest = "", None, ""
    lead = inline[0] if inline else None
    if (lead is not None and lead.tag == "a" and lead.attrs.get("href")
            and not htmltree.text_between(src, head, head_start, lead.start).strip()):
        title_html = htmltree.inner_html(src, lead).strip()
        url = lead.attrs["href"]
        rest = _LEADING_SEP.sub("", src[lead.end:head_end], count=1)
        title_node, t_start, t_end = head, lead.start, lead.end
    else:
        cut = None
        for pos, text in htmltree.gaps(src, head, head_start, head_end):
            m = _SEPARATORS.search(text)
            if m:
                cut = (pos + m.start(), pos + m.end())
                break
        if cut:
            title_html, rest = src[head_start:cut[0]].strip(), src[cut[1]:head_end]
        else:
            title_html = src[head_start:head_end].strip()
        t_start, t_end, title_node = head_start, (cut[0] if cut else head_end), head
        links = [c for c in inline if c.tag == "a" and c.attrs.get("href") and c.start < t_end]
        if len(links) == 1 and urlsplit(links[0].attrs["href"]).scheme in ("http", "https"):
            url = links[0].attrs["href"]
            title_html = _A_TAG.sub("", title_html)     # the whole title becomes that link
    title_text = " ".join(htmltree.text_between(src, title_node, t_start, t_end).split())
    rest = rest.strip()
    if tail:
        notes = (f"<p>{rest}</p>\n" if rest else "") + tail
    else:
        notes = rest
    return title_html, title_text, url, notes




# (sha256 of a post's html, section) -> its raw entries [(anchor, n, title html, title text,
# url, notes)]. Parsing every post's html is most of an incremental build's time on a large
# site, and the result depends on nothing else: manifest.BuildCache keeps it between builds
# (what this build used, in SECTIONS_USED) and drops it when studylog's code changes.
SECTIONS: dict[tuple[str, str], list[tuple]] = {}
SECTIONS_USED: dict[tuple[str, str], list[tuple]] = {}
# id(html) -> (html, its sha256): each post is asked for once per listed section (cleared with
# SECTIONS at the start of a build; holding the html keeps its id unique meanwhile)
HTML_HASHES: dict[int, tuple[str, str]] = {}
ENTRY_DIGESTS: dict[tuple[str, str], str] = {}   # (sha256 of html, section) -> entries_digest


def _html_hash(doc_html: str) -> str:
    hit = HTML_HASHES.get(id(doc_html))
    if hit is None or hit[0] is not doc_html:
        hit = HTML_HASHES[id(doc_html)] = (doc_html, hashlib.sha256(doc_html.encode("utf-8", "surrogatepass")).hexdigest())
    return hit[1]


_HEADING = re.compile(r"<h[1-6]\b[^>]*>(.*?)</h[1-6]\s*>", re.S | re.I)


def _may_have_sections(doc_html: str, names) -> bool:
    """False when no heading anywhere could title one of `names` (a superset of the headings
    section_items accepts), so a note without such sections is never parsed."""
    wanted = [_norm(n) for n in names]
    for m in _HEADING.finditer(doc_html):
        text = _norm(htmltree.plain_text(m.group(1)))
        if any(w in text for w in wanted):
            return True
    return False


def raw_entries(doc_html: str, section: str, sections: tuple[str, ...]) -> list[tuple]:
    """The raw entries of `section` in one post; on a miss every one of `sections` is read from
    a single parse of the html."""
    h = _html_hash(doc_html)
    if (h, section) not in SECTIONS:
        names = dict.fromkeys((section, *sections))
        root = htmltree.parse(doc_html) if _may_have_sections(doc_html, names) else None
        for s in names:
            SECTIONS[(h, s)] = [] if root is None else [
                (anchor, n, *split_entry(doc_html, li)) for n, (anchor, li) in enumerate(section_items(doc_html, s, root))]
    found = SECTIONS_USED[(h, section)] = SECTIONS[(h, section)]
    return found


def entries_digest(doc_html: str, section: str, sections: tuple[str, ...]) -> str:
    """A digest of raw_entries(...) (plain tuples of text and numbers: their repr is exact)."""
    key = (_html_hash(doc_html), section)
    found = ENTRY_DIGESTS.get(key)
    if found is None:
        text = repr(raw_entries(doc_html, section, sections)).encode("utf-8", "surrogatepass")
        found = ENTRY_DIGESTS[key] = hashlib.blake2b(text, digest_size=16).hexdigest()
    return found


def gather(site: Site, section: str) -> list[Entry]:
    """Every entry of `section` across the posts, merged by URL, newest first."""
    by_key: dict[str, Entry] = {}
    order: list[Entry] = []
    sections = tuple(sec for sec, _ in site.config.lists)
    for doc in site.posts:                       # newest first
        if not doc.html:
            continue
        for anchor, n, title_html, title_text, url, notes in raw_entries(doc.html, section, sections):
            # quoted on another page: in-page links (footnotes, headings) point back into the
            # diary, and ids are dropped so they cannot clash
            here = site.urls.doc(doc)
            title_html, notes = (_LOCAL_HREF.sub(rf"\1{here}#", _ID_ATTR.sub("", h)) for h in (title_html, notes))
            if url and url.startswith("#"):
                url = here + url
            if not title_text and not notes:
                continue                         # an empty "- " left from the template
            mention = Mention(doc, iso_week_key(doc.date), anchor, notes, _HREF.findall(notes), n)
            key = url_key(url) if url else f"{doc.rel}#{n}"
            entry = by_key.get(key)
            if entry is None:
                entry = by_key[key] = Entry(key, title_html, title_text or notes[:40], url)
                order.append(entry)
            entry.mentions.append(mention)
    return order


# --------------------------------------------------------------------------- papers
@dataclass(eq=False)
class Paper:
    doc: Document
    title: str
    authors: tuple[str, ...]
    venue: str
    year: int | None
    arxiv: str | None
    url: str | None
    mentions: list[Entry] = field(default_factory=list)      # reading entries that link it

    @property
    def key(self) -> str | None:
        return f"arxiv:{self.arxiv.lower()}" if self.arxiv else (url_key(self.url) if self.url else None)

    @property
    def pdf(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.arxiv}" if self.arxiv else None


def read_paper(doc: Document, errors: list[BuildError]) -> Paper | None:
    value = doc.meta.get("paper")
    if value is None:
        return None
    where = display_path(doc.path)

    def err(key: tuple, msg: str) -> None:
        errors.append(BuildError(where, doc.line_of(("paper",) + key), msg))

    if not isinstance(value, dict):
        err((), "'paper' must be a mapping: title, authors, venue, year, arxiv (or url)")
        return None
    known = {"title", "authors", "venue", "year", "arxiv", "url"}
    for k in value:
        if k not in known:
            err((k,), f"unknown paper field {k!r}; known: {', '.join(sorted(known))}")
    title = value.get("title", doc.title)
    if not isinstance(title, str) or not title.strip():
        err(("title",), "paper.title must be text")
        title = doc.title
    authors = value.get("authors", [])
    if isinstance(authors, str):
        authors = [a.strip() for a in re.split(r",|、| and ", authors) if a.strip()]
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        err(("authors",), "paper.authors must be a list of names")
        authors = []
    venue = value.get("venue", "")
    if not isinstance(venue, (str, int)):
        err(("venue",), "paper.venue must be text, e.g. NIPS 2017")
        venue = ""
    year = value.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not 1000 <= year <= 9999):
        err(("year",), "paper.year must be a year like 2017")
        year = None
    arxiv = value.get("arxiv")
    if arxiv is not None:
        if not isinstance(arxiv, str):
            err(("arxiv",), f"paper.arxiv must be quoted text, e.g. arxiv: \"{arxiv}\" (YAML reads it as a number)")
            arxiv = None
        else:
            m = _ARXIV.search(arxiv)
            arxiv = m.group(1) if m else arxiv.strip().removeprefix("arXiv:").removeprefix("arxiv:")
            if not _ARXIV_ID.match(arxiv):
                err(("arxiv",), f"paper.arxiv {value['arxiv']!r} is not an arXiv id like 1711.02827")
                arxiv = None
    url = value.get("url")
    if url is not None and not (isinstance(url, str) and urlsplit(url).scheme in ("http", "https")):
        err(("url",), "paper.url must be an http(s) URL")
        url = None
    if url is None and arxiv:
        url = f"https://arxiv.org/abs/{arxiv}"
    return Paper(doc, title.strip(), tuple(a.strip() for a in authors), str(venue).strip(), year, arxiv, url)


# --------------------------------------------------------------------------- the model
@dataclass(eq=False)
class Accumulated:
    """What the accumulation pages read (computed when a template first asks)."""
    site: Site
    paper_notes: list[Paper]

    __fingerprint_by_listing__ = True    # documents below are named by listing() only

    def __fingerprint__(self, listing):
        """What every page holding this depends on (manifest.feed): each post's listing (front
        matter, URL, summary) and the raw entries of its listed sections, and the paper notes'
        front matter; not the rest of a post's body, so editing a diary outside its listed
        sections remakes no tag or list page."""
        sections = tuple(sec for sec, _ in self.site.config.lists)
        posts = hashlib.blake2b(digest_size=16)   # fixed-length digests, one run of them
        for d in self.site.posts:
            if d.html:
                posts.update(listing(d).encode())
                for s in sections:
                    posts.update(entries_digest(d.html, s, sections).encode())
                posts.update(b";")
        return (self.site.config.lists, posts.hexdigest(),
                [(listing(p.doc), p.title, p.authors, p.venue, p.year, p.arxiv, p.url) for p in self.paper_notes])

    @cached_property
    def lists(self) -> dict[str, AccList]:
        out = {slug: AccList(section, slug, gather(self.site, section)) for section, slug in self.site.config.lists}
        self._link(out)
        return out

    @property
    def papers(self) -> list[Paper]:
        self.lists   # make sure the cross-links exist
        return self.paper_notes

    def _link(self, lists: dict[str, AccList]) -> None:
        urls = self.site.urls
        by_key = {p.key: p for p in self.paper_notes if p.key}
        by_href = {urls.doc(p.doc): p for p in self.paper_notes}
        for acc in lists.values():
            for e in acc.entries:
                found = []
                if e.key in by_key:
                    found.append(by_key[e.key])
                if e.url and e.url.split("#")[0] in by_href:
                    found.append(by_href[e.url.split("#")[0]])
                for m in e.mentions:
                    found += [by_href[h.split("#")[0]] for h in m.links if h.split("#")[0] in by_href]
                e.papers = list(dict.fromkeys(found))
                for p in e.papers:
                    if e not in p.mentions:
                        p.mentions.append(e)

    def warm(self) -> None:
        """Compute what the pages read (before rendering forks workers that would each do it)."""
        self.lists

    def lists_of(self, doc: Document) -> list[tuple[ListRef, int]]:
        return own_lists(doc, self.site.config.lists)

    def paper_of(self, doc: Document) -> Paper | None:
        return next((p for p in self.papers if p.doc is doc), None)

    def papers_with_tag(self, tag: str) -> list[Paper]:
        key = tag_slug(tag)
        return [p for p in self.papers if any(tag_slug(t) == key for t in p.doc.tags)]

    def entries_with_tag(self, tag: str) -> list[tuple[AccList, Entry]]:
        return [(acc, e) for acc in self.lists.values() for e in acc.with_tag(tag)]


class ListRef(NamedTuple):
    """A list as a diary page names it (no entries)."""
    section: str
    slug: str


def own_lists(doc: Document, lists) -> list[tuple[ListRef, int]]:
    """The lists a diary contributes to, with how many of its items each holds: counted from its
    own sections as gather() counts its mentions, so a diary page never waits for every other
    post's sections to be gathered."""
    if doc.kind != "post" or not doc.html:
        return []
    sections = tuple(sec for sec, _ in lists)
    out = []
    for section, slug in lists:
        # (anchor, n, title html, title text, url, notes): gather() skips items with neither
        n = sum(1 for raw in raw_entries(doc.html, section, sections) if raw[3] or raw[5])
        if n:
            out.append((ListRef(section, slug), n))
    return out


@dataclass(eq=False)
class OwnSections:
    """The accumulation as a plain diary page shows it: where its own sections are gathered.
    Its fields are what that depends on (the document, the configured lists), so an incremental
    build fingerprints the page by them instead of by every document of the site, and editing
    one post does not remake every other post's page. Same interface as Accumulated there."""
    doc: Document
    lists: tuple

    def lists_of(self, doc: Document) -> list[tuple[ListRef, int]]:
        return own_lists(doc, self.lists)

    def paper_of(self, doc: Document) -> None:
        return None


def setup(site: Site, hooks) -> None:
    """Plan the list pages and the papers page; validate `paper:` front matter."""
    errors: list[BuildError] = []
    papers = [p for p in (read_paper(d, errors) for d in site.posts) if p is not None]
    papers.sort(key=lambda p: (-(p.year or 0), _norm(p.title)))
    acc = Accumulated(site, papers)
    site.extra["accumulated"] = acc
    u = site.urls
    noted = {id(p.doc) for p in papers}
    for page in site.pages_out:
        # pages that show what other posts gathered name it in their context (their inputs):
        # tag pages, and paper notes (which list the weeks that read them). A diary's own
        # note of where its sections go depends only on itself.
        if page.template == "tag.html" or (page.doc is not None and id(page.doc) in noted):
            page.context["acc"] = acc
        elif page.doc is not None:
            page.context["acc"] = OwnSections(page.doc, tuple(site.config.lists))
    site.pages_out.append(Page(u.path_of("papers"), "papers.html", "論文", {"acc": acc}))
    # a list's folder may not be one the site already makes (it would replace /search/, or be
    # dropped as a duplicate of /tags/; /search/ is planned after this) nor hold assets or the
    # search bundle
    taken = {p.path.split("/")[0] for p in site.pages_out}
    taken |= {u.path_of("static", "").split("/")[0], u.path_of("search").split("/")[0], BUNDLE}
    for section, slug in site.config.lists:
        path = u.path_of("list", slug)
        if path.split("/")[0] in taken:
            toml = site.config.content_dir / "site.toml"
            line = line_of_entry(toml, "lists", section) if toml.is_file() else 1
            errors.append(BuildError(display_path(toml), line, f"list {section} = {slug!r}: /{path} is a page the "
                                     "site makes already; choose another name"))
            continue
        taken.add(path.split("/")[0])
        site.pages_out.append(Page(path, "accumulated.html", section, {"acc": acc, "slug": slug}))
    if errors:
        raise ContentError(errors)
