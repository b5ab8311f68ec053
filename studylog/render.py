"""Jinja2: pages -> HTML. content/templates/ overrides the default templates by file name."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from .collect import NAV_PAGES, Page, Site, week_title
from .errors import BuildError, display_path

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
WEEKDAYS = "月火水木金土日"


def template_dirs(site: Site) -> list[Path]:
    own = site.config.content_dir / "templates"
    return [own, DEFAULT_TEMPLATES] if own.is_dir() else [DEFAULT_TEMPLATES]


_COMPILED: dict[str, bytes] = {}   # Jinja bytecode by bucket key, for builds in one process


def _bytecode_cache(directory: Path | None):
    """Compiled templates kept between builds (in memory, and on disk in the build cache):
    compiling the theme costs more than rendering a few pages. Jinja checks each entry
    against the template's source, so an edited template is compiled again."""
    import jinja2

    class Cache(jinja2.BytecodeCache):
        def load_bytecode(self, bucket):
            data = _COMPILED.get(bucket.key + bucket.checksum)
            if data is None and directory is not None:
                try:
                    data = (directory / f"{bucket.key}.{bucket.checksum}.cache").read_bytes()
                except OSError:
                    return
            if data is not None:
                bucket.bytecode_from_string(data)

        def dump_bytecode(self, bucket):
            data = bucket.bytecode_to_string()
            _COMPILED[bucket.key + bucket.checksum] = data
            if directory is not None:
                try:
                    directory.mkdir(parents=True, exist_ok=True)
                    tmp = directory / f".{bucket.key}.{os.getpid()}.tmp"
                    tmp.write_bytes(data)
                    os.replace(tmp, directory / f"{bucket.key}.{bucket.checksum}.cache")
                except OSError:
                    pass
    return Cache()


def environment(site: Site, cache_dir: Path | None = None):
    import jinja2   # here, not at import: a rebuild with nothing to render never loads it
    from markupsafe import Markup
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in template_dirs(site)]),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, auto_reload=False,
        bytecode_cache=_bytecode_cache(cache_dir))
    u = site.urls
    env.globals.update(site=site, config=site.config, urls=u, url=u.url, doc_url=u.doc,
                       static=u.static, nav=lambda: nav_items(site), week_title=week_title)
    env.filters.update(date=format_date, isodate=lambda d: d.isoformat(timespec="seconds") if d else "",
                       month_title=month_title, safe_html=Markup)
    return env


def format_date(d: dt.datetime | None, with_weekday: bool = False) -> str:
    if d is None:
        return ""
    s = f"{d.year}年{d.month}月{d.day}日"
    return s + f"（{WEEKDAYS[d.weekday()]}）" if with_weekday else s


def month_title(key: str) -> str:
    y, m = key.split("-")
    return f"{int(y)}年{int(m)}月"


def nav_items(site: Site) -> list[tuple[str, str, str]]:
    """(label, href, path) for the site navigation. A site.toml nav with an unknown target is
    an error (collect.check_nav); the built-in nav skips what the site lacks (page:about)."""
    u, out = site.urls, []
    for label, target in site.config.nav:
        kind, _, key = target.partition(":")
        if target.startswith(("http://", "https://")):
            out.append((label, target, None))
        elif kind in ("page", "post"):
            d = site.lookup(key)
            if d is not None:
                out.append((label, u.doc(d), u.doc_path(d)))
        elif kind in NAV_PAGES:
            out.append((label, u.url(kind), u.path_of(kind)))
        elif kind == "list" and key in dict(site.config.lists).values():
            out.append((label, u.url(kind, key), u.path_of(kind, key)))
    return out


def render_page(env, page: Page) -> str:
    tpl = env.get_template(page.template)
    return tpl.render(page=page, doc=page.doc, title=page.title, **page.context)


def template_error(e: Exception, page: Page) -> BuildError:
    """A broken (override) template -> `template:line: message`, not a traceback."""
    import traceback
    import jinja2
    where, line = page.template, 1
    if isinstance(e, jinja2.TemplateSyntaxError):
        where, line = e.filename or e.name or where, e.lineno or 1
    else:  # find the innermost template frame
        for fr in traceback.extract_tb(e.__traceback__):
            if fr.filename.endswith(".html"):
                where, line = fr.filename, fr.lineno or 1
    return BuildError(display_path(where), line, f"template error rendering /{page.path}: {type(e).__name__}: {e}")


def pygments_css() -> str:
    """Light theme, and a dark one under prefers-color-scheme."""
    from pygments.formatters import HtmlFormatter
    light = HtmlFormatter(style="friendly").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    return ("/* generated from Pygments: light 'friendly', dark 'monokai' */\n" + light +
            "\n@media (prefers-color-scheme: dark) {\n" + dark + "\n}\n")


def static_files(site: Site) -> dict[str, Path]:
    """Default static assets, overridden by content/templates/static/ files of the same name."""
    files: dict[str, Path] = {}
    for base in reversed(template_dirs(site)):
        root = base / "static"
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    files[p.relative_to(root).as_posix()] = p
    return files
