"""A content file -> Document: front matter (with line numbers), date, slug, tags, body."""
from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import guard
from .errors import BuildError, display_path
from .slugs import slugify, tag_slug

_LOADER = None


def _loader_class():
    """PyYAML, imported on first use (an incremental build whose files are unchanged never
    parses YAML). Timestamps stay strings: PyYAML raises on 2017-13-45, we report it with a line."""
    global _LOADER
    if _LOADER is None:
        import yaml
        try:  # libyaml is ~10x faster; the pure-Python loader gives the same nodes
            base = yaml.CSafeLoader
        except AttributeError:  # pragma: no cover
            base = yaml.SafeLoader

        class _Loader(base):
            pass

        _Loader.add_constructor("tag:yaml.org,2002:timestamp", base.construct_yaml_str)
        _LOADER = _Loader
    return _LOADER
_TS_SPACE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})(?:[Tt ]|\s+)(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{1,2}(?::?\d{2})?)?$")

KINDS = {"posts": "post", "pages": "page", "experiments": "experiment"}
# the front matter studylog reads (README "Write a post"); others stay in doc.meta
FRONT_MATTER_KEYS = ("title", "date", "updated", "tags", "slug", "series", "part", "summary", "draft",
                     "paper", "experiment")


@dataclass(eq=False)
class Document:
    path: Path                  # the source file
    rel: str                    # path relative to the content folder, '/' separated
    kind: str                   # "post" | "page" | "experiment"
    meta: dict[str, Any]        # the front matter as parsed
    title: str
    slug: str
    date: dt.datetime | None    # aware, in the site timezone
    has_time: bool              # False for a date-only front matter value
    tags: tuple[str, ...]
    series: str | None
    part: int | None
    draft: bool
    body: str                   # Markdown source, LF line endings, no BOM
    body_line: int              # 1-based line of the body's first line in the file
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)
    # filled in by the render stage
    html: str = ""
    toc: str = ""
    summary_html: str = ""
    summary_text: str = ""
    references: list = field(default_factory=list)   # [(scheme or fence lang, target or YAML)]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def experiment(self) -> dict | None:
        value = self.meta.get("experiment")
        return value if isinstance(value, dict) else None

    @property
    def summary(self) -> str | None:
        value = self.meta.get("summary")
        return str(value) if value not in (None, "") else None

    def line_of(self, key_path: tuple = ()) -> int:
        """Line (1-based) of a front matter key, e.g. ("experiment", "steps").

        Falls back to the nearest known ancestor, then to line 1, so an error always has a line.
        """
        key_path = tuple(key_path)
        while key_path:
            if key_path in self.lines:
                return self.lines[key_path]
            key_path = key_path[:-1]
        return self.lines.get((), 1)

    def path_line(self) -> int:
        """The line that decides where the document is published: its slug, else its title."""
        return self.line_of(("slug",) if "slug" in self.meta else ("title",))

    def __repr__(self) -> str:
        return f"Document({self.rel!r})"


def read_text(path: Path) -> str:
    """UTF-8 with optional BOM; CRLF/CR normalised to LF. Raises UnicodeDecodeError."""
    text = path.read_bytes().decode("utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """-> (front matter or None, body, body's first line number)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]), i + 2
    return "", "", -1  # opened but never closed


def _line_map(node, prefix: tuple, out: dict, first_line: int, twice: list | None = None) -> None:
    """Record the line of every mapping key / sequence item (yaml marks are 0-based), and in
    `twice` each key a mapping gives again [(key, its line, the first line)]: YAML keeps the
    last silently (a second `draft: false` would publish a draft)."""
    import yaml
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value
            path = prefix + (key,)
            line = key_node.start_mark.line + first_line
            if isinstance(key, str):
                if key in seen and twice is not None:
                    twice.append((key, line, seen[key]))
                seen.setdefault(key, line)
            out.setdefault(path, line)
            _line_map(value_node, path, out, first_line, twice)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = prefix + (i,)
            out.setdefault(path, item.start_mark.line + first_line)
            _line_map(item, path, out, first_line, twice)


def parse_date(value: Any, tz: ZoneInfo) -> tuple[dt.datetime, bool] | None:
    """date / datetime (naive = site tz, aware kept then shown in site tz) / ISO string."""
    if isinstance(value, str):
        s = value.strip()
        m = _TS_SPACE.match(s)
        try:
            if m:  # YAML's timestamp forms: '2017-12-04 10:00:00 +9', '...T10:00Z'
                y, mo, d = (int(x) for x in m.group(1).split("-"))
                hms = [float(x) for x in m.group(2).split(":")] + [0.0]
                value = dt.datetime(y, mo, d, int(hms[0]), int(hms[1]), int(hms[2]), round(hms[2] % 1 * 1e6))
                if m.group(3):
                    value = value.replace(tzinfo=_offset(m.group(3)))
            else:
                value = dt.date.fromisoformat(s)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=tz) if value.tzinfo is None else value
        return value.astimezone(tz), True
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz), False
    return None


def _offset(text: str) -> dt.timezone:
    if text in ("Z", "z"):
        return dt.timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:-2] or digits) if len(digits) > 2 else int(digits), int(digits[-2:]) if len(digits) > 2 else 0
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def parse_document(path: Path, content_dir: Path, tz: ZoneInfo, errors: list[BuildError]) -> Document | None:
    """Parse one file; append errors (path:line) and return None when unusable."""
    shown = display_path(path)

    def err(line: int, msg: str) -> None:
        errors.append(BuildError(shown, max(line, 1), msg))

    rel = path.relative_to(content_dir).as_posix()
    kind = KINDS.get(rel.split("/", 1)[0], "page")
    outside = guard.outside_link(path, content_dir)
    if outside:
        err(1, outside)
        return None
    try:
        text = read_text(path)
    except UnicodeDecodeError as e:
        err(1, f"not UTF-8 text (byte {e.start}); save the file as UTF-8")
        return None
    except OSError as e:
        err(1, f"cannot read: {e.strerror}")
        return None
    bad = guard.bad_chars(text)
    for line, msg in bad:
        err(line, msg)
    if bad:
        return None
    if not text.strip():
        err(1, "empty file: expected front matter with a title")
        return None
    fm, body, body_line = split_front_matter(text)
    if fm is None:
        err(1, "missing front matter: the file must start with '---' and a 'title:'")
        return None
    if body_line < 0:
        err(1, "front matter is not closed: add a line '---' after it")
        return None
    lines: dict[tuple, int] = {(): 1}
    import yaml
    try:
        loader = _loader_class()(fm)
        try:
            node = loader.get_single_node()
            meta = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except (ValueError, TypeError) as e:  # constructor errors carry no mark
        err(2, f"front matter is not valid YAML: {e}")
        return None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e).split("\n")[0]
        err(line, f"front matter is not valid YAML: {problem}")
        return None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        err(2, f"front matter must be a mapping of 'key: value' lines, not {type(meta).__name__}")
        return None
    twice: list = []
    _line_map(node, (), lines, 2, twice)
    ok = True
    for key, line, first in twice:
        err(line, f"{key!r} given twice (first at line {first}); keep one")
        ok = False
    for key in meta.keys() - set(FRONT_MATTER_KEYS):
        # a near miss of a key we read (tagz, DRAFT) is a typo whose loss would be silent (the
        # tags, or the whole experiment, missing); any other key stays in doc.meta for templates
        meant = difflib.get_close_matches(str(key).lower(), FRONT_MATTER_KEYS, n=1, cutoff=0.75)
        if meant:
            err(lines.get((key,), 1), f"unknown front matter key {key!r}; did you mean {meant[0]!r}?")
            ok = False
    for line, msg in guard.bad_values(meta, lines):
        err(line, msg)
        ok = False

    title = meta.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        err(lines.get(("title",), 1), "missing or empty 'title'")
        ok = False
    elif not isinstance(title, (str, int, float)):
        err(lines[("title",)], "'title' must be text")
        ok = False
    title = str(title).strip() if ok else ""

    date, has_time = None, False
    for key in ("date", "updated"):
        if meta.get(key) is None:
            continue
        try:
            parsed = parse_date(meta[key], tz)
        except OverflowError:
            err(lines[(key,)], f"{key} {meta[key]!s} is out of range: years 1 to 9999 in the site's timezone")
            ok = False
            continue
        if parsed is None:
            err(lines[(key,)], f"unparseable date {meta[key]!r}: use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+09:00]")
            ok = False
        elif key == "date":
            date, has_time = parsed
    if meta.get("date") is None and kind == "post":
        err(lines.get(("title",), 1), "a post needs a 'date'")
        ok = False

    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list) or not all(isinstance(t, (str, int)) for t in tags):
        err(lines.get(("tags",), 1), "'tags' must be a list of words")
        ok, tags = False, []
    spelled: dict[str, str] = {}      # one chip per tag: ＧＡＮ and gan are one tag (tag_slug)
    for t in (str(t).strip() for t in tags):
        if t and not tag_slug(t):
            err(lines.get(("tags",), 1), f"tag {t!r} has no letters or digits (it would have no page)")
            ok = False
        elif t:
            spelled.setdefault(tag_slug(t), t)
    tags = tuple(spelled.values())

    slug_src = meta.get("slug")
    if slug_src is not None:
        slug = slugify(str(slug_src))
        if not slug:
            err(lines[("slug",)], f"slug {slug_src!r} has no letters or digits")
            ok = False
    else:
        # posts: from the title (Japanese kept); pages: the file name (about.md -> /about/);
        # experiments: the file name, which is NAME in results/NAME and exp:NAME
        slug = slugify(title) if kind == "post" else path.stem if kind == "experiment" else slugify(path.stem)
    slug = slug or slugify(path.stem) or "page"

    series = meta.get("series")
    series = str(series).strip() or None if series is not None else None
    part = meta.get("part")
    if part is not None and (not isinstance(part, int) or isinstance(part, bool) or part < 1):
        err(lines[("part",)], "'part' must be a positive integer")
        ok, part = False, None
    draft = meta.get("draft", False)
    if not isinstance(draft, bool):
        err(lines[("draft",)], "'draft' must be true or false")
        ok = False
    if kind != "experiment" and "experiment" in meta:
        err(lines[("experiment",)], "an experiment: mapping belongs in a file under content/experiments/; "
                                    "here it would be ignored")
        ok = False
    if kind == "experiment" and "experiment" in meta and not isinstance(meta["experiment"], dict):
        err(lines[("experiment",)], "'experiment' must be a mapping")
        ok = False
    if not ok:
        return None
    return Document(path=path, rel=rel, kind=kind, meta=meta, title=title, slug=slug, date=date,
                    has_time=has_time, tags=tags, series=series, part=part, draft=draft,
                    body=body, body_line=body_line, lines=lines)


def find_sources(content_dir: Path) -> list[Path]:
    """Markdown files under posts/, pages/, experiments/ (sorted for determinism)."""
    out: list[Path] = []

    def walk(d: Path) -> None:   # os.scandir: ~5x faster than rglob on a big diary
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_dir():
                walk(d / e.name)
            elif e.name.endswith(".md") and e.is_file():
                out.append(d / e.name)

    for sub in KINDS:
        if (content_dir / sub).is_dir():
            walk(content_dir / sub)
    return sorted(out)


def parse_all(content_dir: Path, tz: ZoneInfo, errors: list[BuildError]) -> list[Document]:
    docs = []
    for path in find_sources(content_dir):
        doc = parse_document(path, content_dir, tz, errors)
        if doc is not None:
            docs.append(doc)
    return docs
