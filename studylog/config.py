"""content/site.toml -> SiteConfig (a frozen dataclass)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
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
    for key, typ in (("posts_per_page", int), ("feed_entries", int)):
        if key in kwargs and (not isinstance(kwargs[key], typ) or kwargs[key] < 1):
            errors.append(BuildError(display_path(path), _line_of_key(path, key), f"{key} must be a positive integer"))
            kwargs.pop(key)
    for key in ("title", "author", "description", "base_url", "language", "timezone", "cname"):
        if key in kwargs and not isinstance(kwargs[key], str):
            errors.append(BuildError(display_path(path), _line_of_key(path, key), f"{key} must be a string"))
            kwargs.pop(key)
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
        return None if parts.scheme in ("http", "https") and parts.netloc else why
    return None if value.startswith("/") and not parts.netloc else why


def merge_base_url(configured: str | None, override: str) -> str:
    """The base_url a --base-url override gives: a path-only one replaces only the path of
    site.toml's http(s) URL (so feeds and canonical links keep the real host); a full URL, or
    a site.toml without a host, is simply replaced."""
    parts = urlsplit(configured or "")
    if urlsplit(override).scheme or not parts.netloc:
        return override
    return urlunsplit((parts.scheme, parts.netloc, override, "", ""))


def _line_of_key(path: Path, key: str) -> int:
    try:
        for n, line in enumerate(path.read_text("utf-8-sig").splitlines(), 1):
            if re.match(rf"\s*\[?{re.escape(key)}\]?\s*(=|$)", line):
                return n
    except (OSError, UnicodeDecodeError):
        pass
    return 1
