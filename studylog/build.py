"""The build, as a story: config -> parse -> collect -> hooks -> markdown -> pages -> write."""
from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import feeds, refs, render
from .collect import Site, collect
from .config import load_config
from .content import parse_all
from .errors import BuildError, ContentError
from .hooks import Hooks, RenderContext
from .markdown import MarkdownRenderer, Rendered
from .urls import output_file

# A setup callback registers extra link/fence handlers once the site model exists
# (the integration adds `exp:` and the experiment fences this way).
Setup = Callable[[Site, Hooks], None]
PARALLEL_MIN_DOCS = 150   # below this, forking workers costs more than it saves


@dataclass
class BuildOptions:
    content: Path = Path("content")
    out: Path = Path("_site")
    base_url: str | None = None
    drafts: bool = False
    quiet: bool = False
    jobs: int | None = None        # None: one per CPU when there are many documents


@dataclass
class BuildResult:
    site: Site
    files: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def build(opts: BuildOptions, setup: Iterable[Setup] = ()) -> BuildResult:
    """Build the site; raise ContentError with every error found, leaving `out` untouched."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, start: list[float] = [t0]) -> None:
        now = time.perf_counter()
        timings[name] = now - start[0]
        start[0] = now

    errors: list[BuildError] = []
    config = load_config(Path(opts.content), opts.base_url)
    docs = parse_all(config.content_dir, config.tz, errors)
    lap("parse")
    site = collect(config, docs, drafts=opts.drafts, errors=errors)
    hooks = Hooks()
    refs.register(hooks)
    for fn in setup:
        fn(site, hooks)
    lap("collect")

    ctx = RenderContext(site, site.urls)
    copies: dict[str, Path] = {}
    for doc, result in zip(site.documents, render_markdown(site, hooks, ctx, opts.jobs)):
        doc.html, doc.toc = result.html, result.toc
        doc.summary_html, doc.summary_text = result.summary_html, result.summary_text
        errors.extend(result.errors)
        copies.update(result.assets)
    copies.update(ctx.assets)
    lap("markdown")
    if errors:
        raise ContentError(sorted(set(errors)))

    files = render_pages(site)
    files[site.urls.path_of("feed")] = feeds.atom(site)
    files[site.urls.path_of("sitemap")] = feeds.sitemap(site)
    files["static/pygments.css"] = render.pygments_css().encode()
    files[".nojekyll"] = b""
    if config.cname:
        files["CNAME"] = config.cname.encode() + b"\n"
    for rel, src in render.static_files(site).items():
        copies[site.urls.path_of("static", rel)] = src
    lap("pages")
    from .write import write_site
    write_site(Path(opts.out), files, copies)
    lap("write")
    return BuildResult(site, len(files) + len(copies), time.perf_counter() - t0, timings)


def render_pages(site: Site) -> dict[str, bytes]:
    env = render.environment(site)
    return {output_file(p.path): render.render_page(env, p).encode() for p in site.pages_out}


# --- Markdown, in parallel for large sites (fork: workers inherit site, hooks, handlers) ---
_JOB: tuple | None = None
_RENDERER: MarkdownRenderer | None = None


def _work(i: int) -> Rendered:
    global _RENDERER
    site, hooks, ctx = _JOB
    if _RENDERER is None:
        _RENDERER = MarkdownRenderer(hooks, ctx)
    return _RENDERER.render(site.documents[i])


def render_markdown(site: Site, hooks: Hooks, ctx: RenderContext, jobs: int | None) -> list[Rendered]:
    global _JOB, _RENDERER
    docs = site.documents
    n_jobs = jobs or (os.cpu_count() or 1)
    if jobs is None and len(docs) < PARALLEL_MIN_DOCS:
        n_jobs = 1
    if n_jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        _JOB, _RENDERER = (site, hooks, ctx), None
        try:
            with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
                return pool.map(_work, range(len(docs)), chunksize=max(1, len(docs) // (n_jobs * 4)))
        finally:
            _JOB = None
    renderer = MarkdownRenderer(hooks, ctx)
    return [renderer.render(d) for d in docs]
