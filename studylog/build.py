"""The build, as a story: config -> parse -> collect -> hooks -> markdown -> pages -> write."""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import accumulate, exp_refs, experiments, feeds, refs, render, search
from .collect import Site, check_paths, collect
from .config import load_config
from .content import parse_all
from .errors import BuildError, ContentError, display_path
from .exp_view import ExperimentView, build_view
from .hooks import Hooks, RenderContext
from .markdown import MarkdownRenderer, Rendered
from .urls import output_file

# A setup callback registers extra link/fence handlers once the site model exists
# (the integration adds `exp:` and the experiment fences this way).
Setup = Callable[[Site, Hooks], None]
DEFAULT_SETUP: tuple[Setup, ...] = (accumulate.setup, search.setup)   # reading list, papers, /search/
PARALLEL_MIN_DOCS = 150   # below this, forking workers costs more than it saves


@dataclass
class BuildOptions:
    content: Path = Path("content")
    out: Path = Path("_site")
    base_url: str | None = None
    drafts: bool = False
    quiet: bool = False
    jobs: int | None = None        # None: one per CPU when there are many documents
    results: Path | None = None    # experiment results (default: results/ beside the content folder)
    smoke: bool = False            # train stale experiments at a tiny size (never reused as real)
    frozen: bool = False           # never train: missing or stale results are errors (deploy CI)
    search: bool = True            # Pagefind index (when installed and site.toml allows)


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
    exp_refs.register(hooks, experiment_stage(site, opts, errors))
    lap("experiments")
    site.extra["search_index"] = search.wanted(config, opts.search)
    for fn in (*DEFAULT_SETUP, *setup):   # may register handlers, add pages (site.pages_out) or assets
        try:
            fn(site, hooks)
        except ContentError as e:         # a setup reports front matter problems this way
            errors.extend(e.errors)
    check_paths(site, errors)
    lap("collect")

    ctx = RenderContext(site, site.urls)
    copies: dict[str, Path] = {}
    for doc, result in zip(site.documents, render_markdown(site, hooks, ctx, opts.jobs)):
        doc.html, doc.toc = result.html, result.toc
        doc.summary_html, doc.summary_text = result.summary_html, result.summary_text
        errors.extend(result.errors)
        doc.references = result.references
        copies.update(result.assets)
    copies.update(ctx.assets)
    copies.update(site.assets)
    lap("markdown")
    if errors:
        raise ContentError(sorted(set(errors)))

    from .write import SiteWriter
    with SiteWriter(Path(opts.out)) as writer:
        n_pages, page_errors = render_pages(site, writer, opts.jobs)
        if page_errors:
            raise ContentError(sorted(set(page_errors)))
        lap("pages")
        extra = {site.urls.path_of("feed"): feeds.atom(site),
                 site.urls.path_of("sitemap"): feeds.sitemap(site),
                 "static/pygments.css": render.pygments_css().encode(),
                 ".nojekyll": b""}
        if config.cname:
            extra["CNAME"] = config.cname.encode() + b"\n"
        for rel, data in extra.items():
            writer.put(rel, data)
        for rel, src in render.static_files(site).items():
            copies[site.urls.path_of("static", rel)] = src
        for rel, src in sorted(copies.items()):
            writer.copy(rel, src)
        lap("write")
        if site.extra["search_index"]:    # index the finished site before it is swapped in
            warning = search.index(writer.tmp)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
            lap("search")
        writer.commit()
    files = n_pages + len(extra) + len(copies)
    return BuildResult(site, files, time.perf_counter() - t0, timings)


def experiment_stage(site: Site, opts: BuildOptions, errors: list[BuildError]) -> dict[str, ExperimentView]:
    """Plan every declared experiment, train the stale ones (unless the content has errors or
    the build is --frozen), then describe each stored result for the pages and references."""
    root = Path(opts.results) if opts.results else site.config.content_dir.resolve().parent / "results"
    plans = {}
    for doc in site.experiments:
        config = experiments.parse(doc, errors)
        if config is not None:
            plans[doc.stem] = experiments.plan(doc.stem, doc, config, root, smoke=opts.smoke)
    stale = [p for p in plans.values() if p.must_run]
    if opts.frozen:
        for p in stale:
            errors.append(BuildError(display_path(p.doc.path), p.doc.line_of(("experiment",)),
                                     f"--frozen: the stored result of {p.name} is {p.state}; "
                                     f"build without --frozen to train it, then commit {root.name}/{p.name}"))
    elif stale and not errors:
        experiments.run_plans(stale, root, smoke=opts.smoke, quiet=opts.quiet, errors=errors)
    views = {}
    for doc in site.experiments:
        views[doc.stem] = build_view(site, doc.stem, doc, plans.get(doc.stem),
                                     experiments.load_result(root, doc.stem))
    site.extra["experiment_views"] = [views[d.stem] for d in site.experiments]
    for page in site.pages_out:
        if page.template == "experiment.html" and page.doc is not None:
            page.context["exp"] = views[page.doc.stem]
        elif page.template == "experiments.html":
            page.context["views"] = [views[d.stem] for d in site.experiments]
    return views


def render_pages(site: Site, writer, jobs: int | None = None) -> tuple[int, list[BuildError]]:
    """Render every planned page and hand it to the writer (in workers when there are many)."""
    pages = site.pages_out
    env = render.environment(site)
    n_jobs = _jobs(jobs, len(pages))
    if n_jobs > 1:
        chunks = [list(range(i, len(pages), n_jobs * 4)) for i in range(n_jobs * 4)]
        errors = [e for part in _fork_map(_page_chunk, (pages, env, writer), chunks, n_jobs) for e in part]
    else:
        errors = _render_some((pages, env, writer), range(len(pages)))
    return len(pages), errors


def _render_some(state, indices) -> list[BuildError]:
    pages, env, writer = state
    errors = []
    for i in indices:
        try:
            html = render.render_page(env, pages[i])
        except Exception as e:  # jinja2 errors, or a handler's bug surfacing in a template
            errors.append(render.template_error(e, pages[i]))
            continue
        writer.put(output_file(pages[i].path), html.encode())
    return errors


# --- parallel stages (fork: workers inherit the site, hooks and handlers; results come back) ---
_STATE: tuple | None = None
_RENDERER: MarkdownRenderer | None = None


def _jobs(jobs: int | None, n_items: int) -> int:
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if "tensorflow" in sys.modules:  # a build that just trained: forking TF's threads can hang
        return 1
    if jobs is None:
        return (os.cpu_count() or 1) if n_items >= PARALLEL_MIN_DOCS else 1
    return jobs


def _fork_map(fn, state: tuple, items: list, n_jobs: int) -> list:
    global _STATE, _RENDERER
    _STATE, _RENDERER = state, None
    try:
        with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
            return pool.map(fn, items, chunksize=1)
    finally:
        _STATE = None


def _page_chunk(indices: list[int]) -> list[BuildError]:
    return _render_some(_STATE, indices)


def _markdown_chunk(indices: list[int]) -> list[Rendered]:
    global _RENDERER
    docs, hooks, ctx = _STATE
    if _RENDERER is None:
        _RENDERER = MarkdownRenderer(hooks, ctx)
    return [_RENDERER.render(docs[i]) for i in indices]


def render_markdown(site: Site, hooks: Hooks, ctx: RenderContext, jobs: int | None) -> list[Rendered]:
    docs = site.documents
    n_jobs = _jobs(jobs, len(docs))
    if n_jobs > 1:
        # interleaved chunks balance long and short documents across workers
        chunks = [list(range(i, len(docs), n_jobs * 4)) for i in range(n_jobs * 4)]
        out: list[Rendered | None] = [None] * len(docs)
        for idx, part in zip(chunks, _fork_map(_markdown_chunk, (docs, hooks, ctx), chunks, n_jobs)):
            for i, r in zip(idx, part):
                out[i] = r
        return out
    renderer = MarkdownRenderer(hooks, ctx)
    return [renderer.render(d) for d in docs]
