"""Atom feed and sitemap.xml, built with ElementTree so text is escaped exactly once."""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from .collect import Site

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


def rfc3339(d: dt.datetime) -> str:
    return d.isoformat(timespec="seconds")


def _updated(doc) -> dt.datetime:
    """`updated` front matter if given and valid, else the post date."""
    from .content import parse_date
    value = doc.meta.get("updated")
    parsed = parse_date(value, doc.date.tzinfo) if value is not None else None
    return parsed[0] if parsed else doc.date


def atom(site: Site) -> bytes:
    cfg, u = site.config, site.urls
    posts = site.posts[: cfg.feed_entries]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": cfg.language})

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    sub(feed, "id", u.abs_url("home"))
    sub(feed, "title", cfg.title)
    if cfg.description:
        sub(feed, "subtitle", cfg.description)
    newest = max((_updated(d) for d in posts), default=dt.datetime(1970, 1, 1, tzinfo=cfg.tz))
    sub(feed, "updated", rfc3339(newest))
    sub(feed, "link", href=u.abs_url("feed"), rel="self", type="application/atom+xml")
    sub(feed, "link", href=u.abs_url("home"), rel="alternate", type="text/html")
    author = sub(feed, "author")
    sub(author, "name", cfg.author or cfg.title)
    sub(feed, "generator", "studylog")
    for d in posts:
        e = sub(feed, "entry")
        sub(e, "id", u.abs(u.doc_path(d)))
        sub(e, "title", d.title)
        sub(e, "link", href=u.abs(u.doc_path(d)), rel="alternate", type="text/html")
        sub(e, "published", rfc3339(d.date))
        sub(e, "updated", rfc3339(_updated(d)))
        for t in d.tags:
            sub(e, "category", term=t)
        if d.summary_text:
            sub(e, "summary", d.summary_text, type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def sitemap(site: Site) -> bytes:
    u = site.urls
    ET.register_namespace("", SITEMAP)
    root = ET.Element(f"{{{SITEMAP}}}urlset")
    for p in site.pages_out:
        if not p.in_sitemap:
            continue
        url = ET.SubElement(root, f"{{{SITEMAP}}}url")
        ET.SubElement(url, f"{{{SITEMAP}}}loc").text = u.abs(p.path)
        if p.doc is not None and p.doc.date is not None:
            ET.SubElement(url, f"{{{SITEMAP}}}lastmod").text = rfc3339(_updated(p.doc))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
