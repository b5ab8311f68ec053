"""Every URL the site emits comes from here (pages, assets, feeds), built from base_url.

Pages live in directories (`posts/SLUG/index.html`) so hrefs stay clean (`/base/posts/SLUG/`).
Paths given to `Urls` are output paths relative to the site root, not yet percent-encoded.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from urllib.parse import quote, urlsplit

from .slugs import slugify, tag_slug


class Urls:
    def __init__(self, base_url: str):
        parts = urlsplit(base_url or "/")
        path = "/" + (parts.path or "/").lstrip("/")
        if not path.endswith("/"):
            path += "/"
        self.prefix = path                       # e.g. "/" or "/studylog/"
        # Feeds need absolute URLs; a path-only base_url gets a placeholder host.
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "http://localhost"

    def __repr__(self) -> str:   # deterministic: incremental builds fingerprint what pages hold
        return f"Urls(prefix={self.prefix!r}, origin={self.origin!r})"

    # --- output paths (relative, unencoded); the single source of the URL scheme ---
    def path_of(self, kind: str, key: str = "", **kw) -> str:
        """Output path (directory ending in '/' or a file) for a page kind."""
        if kind == "home":
            n = kw.get("page", 1)
            return "" if n == 1 else f"page/{n}/"
        if kind == "post":
            return f"posts/{key}/"
        if kind == "page":
            return f"{key}/"
        if kind == "experiment":
            return f"experiments/{key}/"
        if kind == "experiment-file":  # a result file shown by an experiment's page
            return f"experiments/{key}/{kw['file']}"
        if kind == "experiments":
            return "experiments/"
        if kind == "archive":
            return "archive/"
        if kind == "month":          # key = "2017-12"
            y, m = key.split("-")
            return f"archive/{y}/{m}/"
        if kind == "weeks":
            return "weeks/"
        if kind == "week":           # key = "2017-W49"
            return f"weeks/{key}/"
        if kind == "tags":
            return "tags/"
        if kind == "tag":
            return f"tags/{tag_slug(key) or 'tag'}/"
        if kind == "series":
            return f"series/{slugify(key) or 'series'}/"
        if kind == "list":           # an accumulated diary section (site.toml [lists])
            return f"{slugify(key) or 'list'}/"
        if kind == "papers":
            return "papers/"
        if kind == "search":
            return "search/"
        if kind == "feed":
            return "feed.xml"
        if kind == "sitemap":
            return "sitemap.xml"
        if kind == "404":
            return "404.html"
        if kind == "static":
            return f"static/{key}"
        if kind == "asset":          # copied content files (images), key relative to content/
            return f"assets/{key}"
        raise KeyError(kind)

    # --- hrefs ---
    def href(self, path: str) -> str:
        """Root-relative href for an output path: '/studylog/posts/週の日記/' (percent-encoded)."""
        return _quote(self.prefix + path.lstrip("/"))

    def abs(self, path: str) -> str:
        return self.origin + self.href(path)

    def url(self, kind: str, key: str = "", **kw) -> str:
        return self.href(self.path_of(kind, key, **kw))

    def abs_url(self, kind: str, key: str = "", **kw) -> str:
        return self.abs(self.path_of(kind, key, **kw))

    def doc(self, doc) -> str:
        return self.url(doc.kind, doc.slug)

    def doc_path(self, doc) -> str:
        return self.path_of(doc.kind, doc.slug)

    def static(self, name: str) -> str:
        return self.url("static", name)


@lru_cache(maxsize=65536)  # templates ask for the same tag/post URLs thousands of times
def _quote(path: str) -> str:
    return quote(path, safe="/#%-._~!$&'()*+,;=:@")


def output_file(path: str) -> str:
    """Output path -> file to write ('posts/x/' -> 'posts/x/index.html')."""
    return path + "index.html" if path == "" or path.endswith("/") else path


def iso_week_key(d: dt.datetime) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"
