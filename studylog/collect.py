"""Documents -> Site: the indexes every page is drawn from (no HTML here).

Ordering is by aware datetime in the site timezone, then path, so a date-only post sorts at
local midnight beside timezone-aware ones and the order never depends on the machine's TZ.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .config import DEFAULT_NAV, SiteConfig, line_of_entry
from .content import Document
from .errors import BuildError, display_path
from .slugs import slugify, tag_slug
from .urls import Urls, iso_week_key

GENERATED = "(generated page)"


@dataclass
class Page:
    """One output page: a template and its context, at an output path."""
    path: str                       # output path relative to the site root ('posts/x/')
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    doc: Document | None = None
    in_sitemap: bool = True


@dataclass
class Pager:
    number: int
    total: int
    items: list
    prev_url: str | None
    next_url: str | None


@dataclass
class SeriesInfo:
    name: str
    slug: str
    parts: list[Document]

    def index(self, doc) -> int:
        return self.parts.index(doc)


@dataclass
class Site:
    config: SiteConfig
    urls: Urls
    posts: list[Document]                  # newest first
    pages: list[Document]
    experiments: list[Document]
    tags: dict[str, list[Document]]        # tag -> posts and experiments, newest first
    months: dict[str, list[Document]]      # "2017-12" -> posts, newest month first
    weeks: dict[str, list[Document]]       # "2017-W49" -> posts (ISO week, site tz)
    series: dict[str, SeriesInfo]
    prev: dict[int, Document]              # id(doc) -> older post
    next: dict[int, Document]              # id(doc) -> newer post
    draft_names: set[str]
    _names: dict[str, Document]
    pages_out: list[Page] = field(default_factory=list)
    assets: dict[str, Any] = field(default_factory=dict)  # output path -> source file to copy
    extra: dict[str, Any] = field(default_factory=dict)   # room for integration (results, ...)

    @property
    def documents(self) -> list[Document]:
        return self.posts + self.pages + self.experiments

    def series_of(self, doc: Document) -> SeriesInfo | None:
        """The series a post is part of: spellings that share one URL are one series."""
        if not doc.series:
            return None
        key = _series_key(self.urls, doc.series)
        return next((s for s in self.series.values() if _series_key(self.urls, s.name) == key), None)

    def lookup(self, name: str) -> Document | None:
        """A post or page by slug or file stem."""
        return self._names.get(name)

    def by_path(self, path) -> Document | None:
        """The shown document whose source is `path` (resolved), if any."""
        if not hasattr(self, "_by_path"):
            self._by_path = {d.path.resolve(): d for d in self.documents}
        return self._by_path.get(path)

    def names(self) -> list[str]:
        return list(self._names)

    def referencing(self, scheme: str, match) -> list[Document]:
        """Documents with a resolved reference of `scheme` whose target satisfies `match`
        (e.g. backlinks: site.referencing("exp", lambda t: t.split("@")[0] == "fast-ones")).
        Filled after the Markdown stage."""
        return [d for d in self.documents if any(s == scheme and match(t) for s, t in d.references)]

    def experiment(self, name: str) -> Document | None:
        return next((d for d in self.experiments if d.slug == name or d.stem == name), None)


def _series_key(urls: Urls, name: str) -> str:
    return urls.path_of("series", name).casefold()


def _sort_key(doc: Document):
    return (doc.date.timestamp() if doc.date else 0.0, doc.rel)


def collect(config: SiteConfig, docs: list[Document], *, drafts: bool, errors: list[BuildError]) -> Site:
    urls = Urls(config.base_url)
    shown = [d for d in docs if drafts or not d.draft]
    draft_names = {n for d in docs if d.draft and not drafts for n in (d.slug, d.stem)}
    posts = sorted((d for d in shown if d.kind == "post"), key=_sort_key, reverse=True)
    pages = sorted((d for d in shown if d.kind == "page"), key=lambda d: d.rel)
    experiments = sorted((d for d in shown if d.kind == "experiment"), key=lambda d: d.slug)

    names: dict[str, Document] = {}
    for d in posts + pages:          # slugs first, then stems, so a slug always wins
        names.setdefault(d.slug, d)
    for d in posts + pages:
        names.setdefault(d.stem, d)

    tags: dict[str, list[Document]] = {}
    months: dict[str, list[Document]] = {}
    weeks: dict[str, list[Document]] = {}
    series_parts: dict[str, list[Document]] = {}
    spelling: dict[str, str] = {}   # "gan" -> "GAN": tags that share a URL are one tag
    series_spelling: dict[str, str] = {}   # "series/gan-練習/" -> "GAN 練習"
    for d in posts + experiments:    # experiments carry tags too; their pages link to them
        for t in d.tags:
            t = spelling.setdefault(tag_slug(t), t)
            if d not in tags.get(t, ()):
                tags.setdefault(t, []).append(d)
    for d in posts:
        months.setdefault(f"{d.date:%Y-%m}", []).append(d)
        weeks.setdefault(iso_week_key(d.date), []).append(d)
        if d.series:   # series that share a URL are one series, spelled as first met (as tags)
            name = series_spelling.setdefault(_series_key(urls, d.series), d.series)
            series_parts.setdefault(name, []).append(d)
    for docs in tags.values():     # posts and experiments together, newest first
        docs.sort(key=_sort_key, reverse=True)
    tags = dict(sorted(tags.items(), key=lambda kv: tag_slug(kv[0])))
    series = {}
    for name, parts in sorted(series_parts.items()):
        parts.sort(key=lambda d: (d.part if d.part is not None else math.inf, _sort_key(d)))
        series[name] = SeriesInfo(name, slugify(name) or "series", parts)
        seen: dict[int, Document] = {}
        for d in parts:
            if d.part is not None and d.part in seen:
                errors.append(BuildError(display_path(d.path), d.line_of(("part",)),
                                         f"series {name!r} part {d.part} also in {display_path(seen[d.part].path)}"))
            elif d.part is not None:
                seen[d.part] = d
    prev = {id(posts[i]): posts[i + 1] for i in range(len(posts) - 1)}
    nxt = {id(posts[i + 1]): posts[i] for i in range(len(posts) - 1)}
    site = Site(config, urls, posts, pages, experiments, tags, months, weeks, series, prev, nxt,
                draft_names, names)
    site.pages_out = plan_pages(site)
    check_nav(site, errors)
    return site


# nav targets that name a page every site has (nav_items in render.py draws them)
NAV_PAGES = ("home", "archive", "tags", "weeks", "experiments", "papers", "search")


def nav_problem(site: Site, target: str) -> str | None:
    """Why a site.toml nav target names nothing, or None."""
    kind, sep, key = target.partition(":")
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        if parts.netloc and not any(c.isspace() for c in target):
            return None
        return "not a URL with a host"
    if not sep and kind in NAV_PAGES:
        return None
    if sep and kind == "list":
        slugs = [slug for _, slug in site.config.lists]
        if key in slugs:
            return None
        return f"no list {key!r} in [lists] (there are: {', '.join(slugs) or 'none'})"
    if sep and kind in ("page", "post"):
        if site.lookup(key) is not None:
            return None
        if key in site.draft_names:
            return f"{key!r} is a draft (build with --drafts to show it)"
        return f"no post or page named {key!r}"
    return "unknown target"


def check_nav(site: Site, errors: list[BuildError]) -> None:
    """Each nav target of site.toml names a page of the site, else an error at its line. The
    built-in nav (no nav in site.toml) may name what a site lacks (page:about): those items
    are left out of it."""
    if site.config.nav is DEFAULT_NAV:
        return
    toml = site.config.content_dir / "site.toml"
    valid = ", ".join((*NAV_PAGES, "list:SLUG", "page:NAME", "post:NAME", "an http(s):// URL"))
    lists = ", ".join(f"list:{slug}" for _, slug in site.config.lists)
    for label, target in site.config.nav:
        problem = nav_problem(site, target)
        if problem:
            errors.append(BuildError(display_path(toml), line_of_entry(toml, "nav", label),
                                     f"nav {label} = {target!r}: {problem}; a nav target is one of {valid}"
                                     + (f" (lists here: {lists})" if lists else "")))


def plan_pages(site: Site) -> list[Page]:
    u, cfg = site.urls, site.config
    out: list[Page] = []
    per = cfg.posts_per_page
    total = max(1, math.ceil(len(site.posts) / per))
    for n in range(1, total + 1):
        pager = Pager(n, total, site.posts[(n - 1) * per: n * per],
                      u.url("home", page=n - 1) if n > 1 else None,
                      u.url("home", page=n + 1) if n < total else None)
        title = cfg.title if n == 1 else f"{n} ページ目"
        out.append(Page(u.path_of("home", page=n), "index.html", title, {"pager": pager, "is_home": True}))
    for d in site.posts:
        out.append(Page(u.doc_path(d), "post.html", d.title, {
            "prev_post": site.prev.get(id(d)), "next_post": site.next.get(id(d)),
            "series": site.series_of(d)}, doc=d))
    for d in site.pages:
        out.append(Page(u.doc_path(d), "page.html", d.title, doc=d))
    out.append(Page(u.path_of("experiments"), "experiments.html", "実験", {"experiments": site.experiments}))
    for d in site.experiments:
        out.append(Page(u.doc_path(d), "experiment.html", d.title, doc=d))
    out.append(Page(u.path_of("archive"), "archive.html", "アーカイブ", {"months": site.months}))
    for key, posts in site.months.items():
        y, m = key.split("-")
        out.append(Page(u.path_of("month", key), "month.html", f"{int(y)}年{int(m)}月",
                        {"month": key, "posts": posts}))
    out.append(Page(u.path_of("weeks"), "weeks.html", "週ごと", {"weeks": site.weeks}))
    for key, posts in site.weeks.items():
        out.append(Page(u.path_of("week", key), "week.html", week_title(key), {"week": key, "posts": posts}))
    out.append(Page(u.path_of("tags"), "tags.html", "タグ", {"tags": site.tags}))
    for tag, posts in site.tags.items():
        out.append(Page(u.path_of("tag", tag), "tag.html", f"タグ: {tag}", {"tag": tag, "posts": posts}))
    for s in site.series.values():
        out.append(Page(u.path_of("series", s.name), "series.html", f"シリーズ: {s.name}", {"series": s}))
    out.append(Page(u.path_of("404"), "404.html", "ページが見つかりません", in_sitemap=False))
    return out


def week_title(key: str) -> str:
    import datetime as dt
    y, w = key.split("-W")
    monday = dt.date.fromisocalendar(int(y), int(w), 1)
    return f"{monday:%Y-%m-%d} の週"


def check_paths(site: Site, errors: list[BuildError]) -> None:
    """Two pages on one output path is an error naming both files."""
    owner: dict[str, Page] = {}
    for p in site.pages_out:
        key = p.path.casefold()   # case-insensitive file systems (macOS checkouts) would merge them
        first = owner.get(key)
        if first is None:
            owner[key] = p
            continue
        where = display_path(first.doc.path) if first.doc else GENERATED
        if p.doc is not None:
            errors.append(BuildError(display_path(p.doc.path), p.doc.path_line(),
                                     f"output path /{p.path} is also used by {where}; set a different 'slug'"))
        elif first.doc is not None:
            errors.append(BuildError(display_path(first.doc.path), 1, f"output path /{p.path} is reserved for {GENERATED}"))
        else:   # two generated pages on one URL: one of them would silently vanish
            errors.append(BuildError(GENERATED, 1, f"output path /{p.path} is made twice: "
                                     f"「{first.title}」 and 「{p.title}」"))
    # drop duplicate pages so rendering continues and reports other errors
    seen = set()
    site.pages_out = [p for p in site.pages_out if not (p.path.casefold() in seen or seen.add(p.path.casefold()))]
