"""content/site.toml -> SiteConfig (a frozen dataclass)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import BuildError, ContentError, display_path
from .slugs import slugify

DEFAULT_NAV = (("ホーム", "home"), ("アーカイブ", "archive"), ("タグ", "tags"),
               ("読んだ記事", "list:reading"), ("イベント", "list:events"), ("論文", "papers"),
               ("実験", "experiments"), ("検索", "search"), ("このサイトについて", "page:about"))
# diary sections gathered across every post into one page each: (section heading, URL name)
DEFAULT_LISTS = (("読んだ記事", "reading"), ("参加したイベント", "events"))


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Study Log"
    author: str = ""
    description: str = ""
    base_url: str = "/"
    language: str = "ja"
    timezone: str = "Asia/Tokyo"
    posts_per_page: int = 10
    feed_entries: int = 20
    cname: str = ""
    # (label, target) pairs; target is "home", "archive", "tags", "weeks", "experiments",
    # "page:SLUG", "post:SLUG" or an absolute http(s) URL
    nav: tuple[tuple[str, str], ...] = DEFAULT_NAV
    # [lists] "読んだ記事" = "reading": the section's items from every post, at /reading/
    lists: tuple[tuple[str, str], ...] = DEFAULT_LISTS
    search: bool = True           # build a Pagefind index when pagefind is installed
    content_dir: Path = field(default=Path("content"), compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_config(content_dir: Path, base_url: str | None = None) -> SiteConfig:
    """Read site.toml (optional: defaults apply when absent). Errors raise ContentError."""
    path = content_dir / "site.toml"
    data: dict = {}
    errors: list[BuildError] = []
    if path.exists():
        try:
            data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ContentError([BuildError(display_path(path), 1, "not UTF-8 text")])
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"line (\d+)", str(e))
            raise ContentError([BuildError(display_path(path), int(m.group(1)) if m else 1, f"invalid TOML: {e}")])
    known = {f.name for f in fields(SiteConfig)} - {"content_dir"}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            errors.append(BuildError(display_path(path), _line_of_key(path, key), f"unknown setting {key!r}"))
            continue
        kwargs[key] = value
    if "nav" in kwargs:
        nav = kwargs["nav"]
        # [nav] as a table {label = target} or a list of {label, url} tables
        if isinstance(nav, dict):
            kwargs["nav"] = tuple((str(k), str(v)) for k, v in nav.items())
        elif isinstance(nav, list) and all(isinstance(i, dict) for i in nav):
            kwargs["nav"] = tuple((str(i.get("label", i.get("title", ""))), str(i.get("url", i.get("target", ""))))
                                  for i in nav)
        else:
            errors.append(BuildError(display_path(path), _line_of_key(path, "nav"), "nav must be a table"))
            kwargs.pop("nav")
    if "lists" in kwargs:
        lists = kwargs.pop("lists")
        if isinstance(lists, dict) and all(isinstance(v, str) and slugify(v) for v in lists.values()):
            kwargs["lists"] = tuple((str(k), slugify(v)) for k, v in lists.items())
        else:
            errors.append(BuildError(display_path(path), _line_of_key(path, "lists"),
                                     'lists must be a table of "section heading" = "url-name"'))
    if "search" in kwargs and not isinstance(kwargs["search"], bool):
        errors.append(BuildError(display_path(path), _line_of_key(path, "search"), "search must be true or false"))
        kwargs.pop("search")
    for key in ("posts_per_page", "feed_entries"):
        # bool is an int in Python: `posts_per_page = true` is not 1
        if key in kwargs and (not isinstance(kwargs[key], int) or isinstance(kwargs[key], bool) or kwargs[key] < 1):
            errors.append(BuildError(display_path(path), _line_of_key(path, key), f"{key} must be a positive integer"))
            kwargs.pop(key)
    for key in ("title", "author", "description", "base_url", "language", "timezone", "cname"):
        if key in kwargs and not isinstance(kwargs[key], str):
            errors.append(BuildError(display_path(path), _line_of_key(path, key), f"{key} must be a string"))
            kwargs.pop(key)
    if kwargs.get("cname"):      # "" (the default) writes no CNAME file
        problem = cname_problem(kwargs["cname"])
        if problem:
            errors.append(BuildError(display_path(path), _line_of_key(path, "cname"), problem))
            kwargs.pop("cname")
    if "base_url" in kwargs:
        problem = base_url_problem(kwargs["base_url"])
        if problem:
            errors.append(BuildError(display_path(path), _line_of_key(path, "base_url"), problem))
            kwargs.pop("base_url")
    if base_url is not None:     # --base-url (the caller checked it with base_url_problem)
        kwargs["base_url"] = merge_base_url(kwargs.get("base_url"), base_url)
    if "timezone" in kwargs:
        try:
            ZoneInfo(kwargs["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(BuildError(display_path(path), _line_of_key(path, "timezone"),
                                     f"unknown timezone {kwargs['timezone']!r}"))
            kwargs.pop("timezone")
    if errors:
        raise ContentError(errors)
    return SiteConfig(content_dir=content_dir, **kwargs)


def base_url_problem(value: str) -> str | None:
    """Why `value` cannot be a base_url, or None. Only a path starting with '/' (the site's
    base path) or an absolute http(s) URL is one: anything else (`javascript:...`, `//host/`,
    a bare `studylog/`) would put its junk into every link of the site."""
    why = f"base_url must be a path starting with / or an http(s):// URL, not {value!r}"
    if any(c.isspace() or not c.isprintable() for c in value):
        return why
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        return why
    if parts.scheme:
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return why
    elif not value.startswith("/") or parts.netloc:
        return why
    # `/../x/` or `/%2e%2e/` would send every link out of (or around) the site's folder
    if any(unquote(seg) in (".", "..") for seg in parts.path.split("/")):
        return f"base_url may not have . or .. path segments (also percent-encoded): {value!r}"
    return None


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def cname_problem(value: str) -> str | None:
    """Why `value` cannot be written to CNAME, or None: GitHub Pages wants a bare host name
    (letters, digits and hyphens in dot-separated labels; no scheme, port, path or spaces)."""
    labels = value.split(".")
    if len(value) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels):
        return None
    return (f"cname must be a host name such as studylog.example.com (letters, digits, hyphens "
            f"and dots; no scheme, port, path or spaces), not {value!r}")


def merge_base_url(configured: str | None, override: str) -> str:
    """The base_url a --base-url override gives: a path-only one replaces only the path of
    site.toml's http(s) URL (so feeds and canonical links keep the real host); a full URL, or
    a site.toml without a host, is simply replaced."""
    parts = urlsplit(configured or "")
    if urlsplit(override).scheme or not parts.netloc:
        return override
    return urlunsplit((parts.scheme, parts.netloc, override, "", ""))


_KEY = r"""(?:"{0}"|'{0}'|{0})"""


def line_of_entry(path: Path, table: str, entry: str) -> int:
    """The site.toml line of `entry` inside the table `table`, whichever way it is written:
    `[table]` with `entry = ...` lines, an inline `table = { entry = ..., ... }`, or `[[table]]`
    blocks / an array of inline tables whose value is `entry` (nav's `label = "ホーム"`).
    Falls back to the table's own line (then 1)."""
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    name = _KEY.format(re.escape(table))
    header = re.compile(rf"\s*\[\[?\s*{name}\s*\]\]?\s*(#.*)?$")
    inline = re.compile(rf"\s*{name}\s*=")
    start = None
    for n, line in enumerate(lines, 1):
        if header.match(line) or inline.match(line):
            start = n
            break
    if start is None:
        return 1
    # the table's lines: to the next header (but [[table]] continues it); an inline value ends
    # at the next top-level key
    block = [(start, lines[start - 1])]
    is_header = bool(header.match(lines[start - 1]))
    for n in range(start + 1, len(lines) + 1):
        line = lines[n - 1]
        if re.match(r"\s*\[", line) and not header.match(line) and (is_header or not re.match(r"\s*\[\s*[\"'{]", line)):
            break
        if not is_header and re.match(r"""\s*[A-Za-z0-9_"'-][^=]*=""", line) and not re.match(r"\s*\{", line):
            break
        block.append((n, line))
    esc = re.escape(entry)
    as_key = re.compile(rf"""(^|[{{,\s]){_KEY.format(esc)}\s*=""")
    as_value = re.compile(rf"""=\s*(?:"{esc}"|'{esc}')""")
    for pattern in (as_key, as_value):
        for n, line in block:
            text = line if n != start or is_header else line.split("=", 1)[1]
            if pattern.search(text):
                return n
    return start


def _line_of_key(path: Path, key: str) -> int:
    try:
        for n, line in enumerate(path.read_text("utf-8-sig").splitlines(), 1):
            if re.match(rf"\s*\[?{re.escape(key)}\]?\s*(=|$)", line):
                return n
    except (OSError, UnicodeDecodeError):
        pass
    return 1
