"""The build, as a story: config -> parse -> collect -> hooks -> markdown -> pages -> write."""
from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from . import accumulate, guard, manifest, render, search
from .collect import Site
from .errors import BuildError, ContentError, display_path
from .hooks import Hooks, RenderContext
from .manifest import FILES, BuildCache, Output, Uncacheable, digest
from .urls import output_file

if TYPE_CHECKING:
    from .exp_view import ExperimentView
    from .markdown import MarkdownRenderer, Rendered

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
    clean: bool = False            # ignore what the last build left (studylog.manifest)
    # stop at once when nothing the last build read has changed (manifest.up_to_date); the
    # result then has site=None and the last build's counts in `summary`
    skip_if_unchanged: bool = False


@dataclass
class BuildResult:
    site: Site
    files: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    made: int = -1                 # files made this time (the rest were reused)
    summary: dict = field(default_factory=dict)


def build(opts: BuildOptions, setup: Iterable[Setup] = ()) -> BuildResult:
    """Build the site; raise ContentError with every error found, leaving `out` untouched.

    Incremental: studylog.manifest remembers what every output was made from; only outputs
    whose inputs changed are made again, the rest are hard-linked from the previous output
    into the new tree, which then replaces the old one in one atomic swap. Nothing changed
    (and the folder holds exactly the site) = nothing written at all.
    """
    # A build allocates ~10^6 long-lived objects and frees few: the cyclic collector would
    # scan them again and again (a fifth of an edit rebuild) to find almost nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _timed_build(opts, setup)
    finally:
        if collecting:
            gc.enable()


def _timed_build(opts: BuildOptions, setup: Iterable[Setup]) -> BuildResult:
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, start: list[float] = [t0]) -> None:
        now = time.perf_counter()
        timings[name] = now - start[0]
        start[0] = now

    setup = list(setup)
    out = Path(opts.out)
    results = results_root(opts.content, opts.results)
    options = (str(Path(opts.content).resolve()), str(out.absolute()), opts.base_url, opts.drafts,
               str(results.absolute()), opts.smoke, opts.frozen, opts.search,
               os.environ.get("STUDYLOG_SEARCH"), os.environ.get("PAGEFIND_BINARY_PATH"), sys.executable)
    if opts.skip_if_unchanged and not setup and not opts.clean:
        summary = manifest.up_to_date(out, options)
        if summary is not None:
            lap("check")
            return BuildResult(None, summary["files"], time.perf_counter() - t0, timings, made=0, summary=summary)
    manifest.start_recording(out, [Path(opts.content), render.DEFAULT_TEMPLATES, results])
    try:
        return _build(opts, setup, out, options, lap, t0, timings)
    finally:
        manifest.stop_recording()


def _build(opts: BuildOptions, setup: list, out: Path, options: tuple, lap, t0: float, timings: dict) -> BuildResult:
    # imported here, not at the top: an up-to-date site is answered without loading any of it
    from . import exp_refs, refs
    from .collect import check_paths, collect
    from .config import load_config
    from .linkcheck import check_links
    errors: list[BuildError] = []
    config = load_config(Path(opts.content), opts.base_url)
    cache = BuildCache(Path(opts.out), fresh=opts.clean)
    docs = cache.parse_all(config.content_dir, config.tz, errors,
                           parse_many=lambda paths: parse_sources(paths, config, opts.jobs))
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
    for doc, result in zip(site.documents, render_markdown(site, hooks, ctx, opts.jobs, cache)):
        doc.html, doc.toc = result.html, result.toc
        doc.summary_html, doc.summary_text = result.summary_html, result.summary_text
        errors.extend(result.errors)
        doc.references = result.references
        copies.update(result.assets)
    copies.update(ctx.assets)
    copies.update(site.assets)
    lap("markdown")
    errors.extend(guard.check_rendered(site.documents))   # &#0; and kin, passed through by Markdown
    if errors:
        raise ContentError(sorted(set(errors)))

    outputs = plan_outputs(site, cache, copies)     # adds the static files to `copies`
    leaks = guard.check_copies(copies, config.content_dir)   # symlinks out of the content folder
    if leaks:
        raise ContentError(leaks)
    same = cache.unchanged(outputs)
    lap("plan")
    views = site.extra.get("experiment_views")
    summary = {"files": len(outputs), "posts": len(site.posts), "pages": len(site.pages),
               "experiments": len(site.experiments)}
    if views:   # kept in the manifest so an up-to-date build can print it without loading anything
        from .exp_view import summary_table
        summary["experiments_table"] = summary_table(views)
    quick = not setup and all(o.key is not None for o in outputs.values())
    want_search = bool(site.extra.get("search_index"))
    skey = cache.search_key(outputs, search.identity()) if want_search else None
    sfiles = cache.search_files(skey) if want_search else {}
    if len(same) == len(outputs) and sfiles is not None and cache.exact_tree(set(outputs) | set(sfiles)):
        cache.keep_outputs(outputs)           # nothing to write: the site is already this
        cache.save(out, only_if_changed=True)
        if quick:
            manifest.save_inputs(out, options, out, {**cache.recorded_sigs(), **sfiles},
                                 summary)
        lap("write")
        return BuildResult(site, len(outputs), time.perf_counter() - t0, timings, made=0, summary=summary)

    from .write import SiteWriter
    with SiteWriter(out, spare=cache.spare_dir) as writer:
        # in place: the spare (the site before last) already holds some files as they must be
        ready = cache.unchanged(outputs, spare=True) if writer.in_place else set()
        ready_search = cache.search_files(skey, spare=True) if writer.in_place and want_search else None
        if writer.in_place:
            writer.prune(set(outputs) | set(ready_search or ()))
        todo_pages = []
        for rel, o in outputs.items():
            if rel in ready:
                continue
            if rel in same:
                writer.link(rel, cache.out / rel)
            elif o.kind == "page":
                todo_pages.append(o.value)
        _, page_errors, scanned = render_pages(site, writer, opts.jobs, todo_pages, cache.dir / "jinja")
        if page_errors:
            raise ContentError(sorted(set(page_errors)))
        lap("pages")
        for rel, o in outputs.items():
            if rel in ready or rel in same or o.kind == "page":
                continue
            if o.kind == "bytes":
                writer.put(rel, o.value())
            else:
                writer.copy(rel, o.value)
        lap("write")
        search_sigs = {}
        if want_search:
            if ready_search is not None:      # the spare's index is for exactly these pages
                search_sigs = cache.record_search(skey, writer.tmp, search.BUNDLE)
            elif sfiles is not None:          # the live site's is
                for rel in sfiles:
                    writer.link(rel, cache.out / rel)
                search_sigs = cache.record_search(skey, writer.tmp, search.BUNDLE)
            else:                             # index the finished site before it is swapped in
                warning = search.index(writer.tmp)
                if warning:
                    print(f"warning: {warning}", file=sys.stderr)
                    _without_search(site, writer, outputs, scanned)
                search_sigs = cache.record_search(None if warning else skey, writer.tmp, search.BUNDLE)
                quick = quick and not warning
            lap("search")
        cache.record_outputs(writer.tmp, outputs, untouched=ready)
        check_links(site, writer.tmp, out, scanned,   # nothing broken is published
                    files=set(outputs) | set(search_sigs), sigs={**cache.recorded_sigs(), **search_sigs})
        lap("linkcheck")
        cache.will_swap()
        cache.save(writer.tmp)     # describes the new tree, which the swap makes the output
        if quick:
            manifest.save_inputs(out, options, writer.tmp,
                                 {**cache.recorded_sigs(), **search_sigs}, summary)
        writer.commit()
    return BuildResult(site, len(outputs), time.perf_counter() - t0, timings, made=len(outputs) - len(same),
                       summary=summary)


def _without_search(site: Site, writer, outputs: dict[str, Output], scanned: dict) -> None:
    """Pagefind failed: publish no half-written index, and a search page that says search is
    unavailable instead of one loading Pagefind's missing UI (made again by the next build,
    when Pagefind may work)."""
    import shutil
    shutil.rmtree(writer.tmp / search.BUNDLE, ignore_errors=True)
    for i, page in enumerate(site.pages_out):
        if page.template == "search.html" and page.context.get("search_enabled"):
            page.context["search_enabled"] = False
            _, errors, more = render_pages(site, writer, 1, [i])
            if errors:
                raise ContentError(errors)
            scanned.update(more)
            outputs[output_file(page.path)] = Output(None, "page", i)


def results_root(content: Path, results: Path | None) -> Path:
    """Where experiment results are stored: --results, else results/ beside the content folder."""
    return Path(results) if results else Path(content).resolve().parent / "results"


def experiment_stage(site: Site, opts: BuildOptions, errors: list[BuildError]) -> dict[str, ExperimentView]:
    """Plan every declared experiment, train the stale ones (unless the content has errors or
    the build is --frozen), then describe each stored result for the pages and references."""
    from . import experiments
    from .exp_view import build_view
    root = results_root(site.config.content_dir, opts.results)
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
        for p in stale:   # planned again from what is stored now, as the next build will see it
            plans[p.name] = experiments.plan(p.name, p.doc, p.config, root, smoke=opts.smoke)
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


def plan_outputs(site: Site, cache: BuildCache, copies: dict[str, Path]) -> dict[str, Output]:
    """Every file of the site: its key (what it is made from) and how to make it."""
    config, u = site.config, site.urls
    conf = digest(config, str)
    dirs = render.template_dirs(site)
    outputs: dict[str, Output] = {}
    for i, page in enumerate(site.pages_out):
        outputs[output_file(page.path)] = Output(cache.page_key(page, dirs, site, conf), "page", i)

    def key(*parts) -> str | None:
        try:   # the feed and the sitemap show what a listing shows of each document
            return digest((cache.code, conf) + parts, cache._listing_fp)
        except Uncacheable:
            return None

    from . import feeds
    outputs[u.path_of("feed")] = Output(key("feed", site.posts[: config.feed_entries]), "bytes",
                                        lambda: feeds.atom(site))
    outputs[u.path_of("sitemap")] = Output(key("sitemap", [(p.path, p.in_sitemap, p.doc) for p in site.pages_out]),
                                           "bytes", lambda: feeds.sitemap(site))
    outputs["static/pygments.css"] = Output(key("pygments"), "bytes", lambda: render.pygments_css().encode())
    outputs[".nojekyll"] = Output(key("nojekyll"), "bytes", lambda: b"")
    if config.cname:
        outputs["CNAME"] = Output(key("cname"), "bytes", lambda: config.cname.encode() + b"\n")
    for rel, src in render.static_files(site).items():
        copies[u.path_of("static", rel)] = src
    for rel, src in sorted(copies.items()):
        try:
            outputs[rel] = Output("copy:" + FILES.hash(Path(src)), "copy", Path(src))
        except OSError:
            outputs[rel] = Output(None, "copy", Path(src))   # the copy reports the error
    return outputs


def render_pages(site: Site, writer, jobs: int | None = None, indices: list[int] | None = None,
                 template_cache: Path | None = None) -> tuple[int, list[BuildError], dict[str, tuple]]:
    """Render planned pages (all, or those at `indices`) and hand them to the writer
    (in workers when there are many). Also returns each page's links and ids, scanned for the
    link check where the html is at hand (in the worker, not read back from disk)."""
    pages = site.pages_out
    indices = list(range(len(pages))) if indices is None else list(indices)
    if not indices:
        return 0, [], {}
    env = render.environment(site, template_cache)
    n_jobs = _jobs(jobs, len(indices))
    if n_jobs > 1:
        # what pages compute lazily from the whole site (the accumulated lists), computed once
        # here so that the workers inherit it instead of each computing it again
        for v in list(site.extra.values()):
            if callable(getattr(v, "warm", None)):
                v.warm()
        n = n_jobs * 4
        chunks = [indices[i::n] for i in range(n)]
        errors, scanned = [], {}
        for part_errors, part_scanned in _fork_map(_page_chunk, (pages, env, writer), chunks, n_jobs):
            errors += part_errors
            scanned.update(part_scanned)
    else:
        errors, scanned = _render_some((pages, env, writer), indices)
    return len(indices), errors, scanned


def _render_some(state, indices) -> tuple[list[BuildError], dict[str, tuple]]:
    from .linkcheck import scan_html
    pages, env, writer = state
    errors, scanned = [], {}
    for i in indices:
        try:
            html = render.render_page(env, pages[i])
        except Exception as e:  # jinja2 errors, or a handler's bug surfacing in a template
            errors.append(render.template_error(e, pages[i]))
            continue
        rel = output_file(pages[i].path)
        writer.put(rel, html.encode())
        page = scan_html(html)
        scanned[rel] = (page.links, page.ids)
    return errors, scanned


# --- parallel stages (fork: workers inherit the site, hooks and handlers; results come back) ---
_STATE: tuple | None = None
_RENDERER: MarkdownRenderer | None = None


def _jobs(jobs: int | None, n_items: int) -> int:
    if "tensorflow" in sys.modules:  # a build that just trained: forking TF's threads can hang
        return 1
    n = jobs if jobs is not None else (os.cpu_count() or 1) if n_items >= PARALLEL_MIN_DOCS else 1
    if n > 1:
        import multiprocessing       # here: an edit rebuild forks nothing
        if "fork" not in multiprocessing.get_all_start_methods():
            return 1
    return n


def _fork_map(fn, state: tuple, items: list, n_jobs: int) -> list:
    global _STATE, _RENDERER
    _STATE, _RENDERER = state, None
    try:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(n_jobs, initializer=manifest.take_recorded) as pool:
            out = []
            for result, reads in pool.map(_reporting, [(fn, i) for i in items], chunksize=1):
                manifest.merge_recorded(reads)      # what the worker read counts as read
                out.append(result)
            return out
    finally:
        _STATE = None


def _reporting(args):
    fn, items = args
    return fn(items), manifest.take_recorded()


def _page_chunk(indices: list[int]) -> tuple[list[BuildError], dict[str, tuple]]:
    return _render_some(_STATE, indices)


def parse_sources(paths: list[Path], config, jobs: int | None) -> list[tuple[bytes | None, list]]:
    """Parse content files -> [(the pickled Document or None, its errors)], in forked workers
    when there are many (the YAML and the checks cost ~0.3 ms a file)."""
    n_jobs = _jobs(jobs, len(paths))
    if n_jobs < 2:
        return _parse_some((config.content_dir, config.tz), paths)
    n = n_jobs * 4
    chunks = [paths[i::n] for i in range(n)]
    out: dict[Path, tuple] = {}
    for chunk, part in zip(chunks, _fork_map(_parse_chunk, (config.content_dir, config.tz), chunks, n_jobs)):
        out.update(zip(chunk, part))
    return [out[p] for p in paths]


def _parse_some(state, paths) -> list[tuple[bytes | None, list]]:
    import pickle
    from .content import parse_document
    content_dir, tz = state
    out = []
    for path in paths:
        errs: list[BuildError] = []
        doc = parse_document(path, content_dir, tz, errs)
        out.append((pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL) if doc is not None else None, errs))
    return out


def _parse_chunk(paths: list[Path]) -> list[tuple[bytes | None, list]]:
    return _parse_some(_STATE, paths)


def _markdown_chunk(indices: list[int]) -> tuple[list[Rendered], dict]:
    global _RENDERER
    docs, hooks, ctx = _STATE
    if _RENDERER is None:
        from .markdown import MarkdownRenderer
        _RENDERER = MarkdownRenderer(hooks, ctx)
    out = [_RENDERER.render(docs[i]) for i in indices]
    # a diary's listed sections, read from its html here, in parallel, while the html is at
    # hand (accumulate.raw_entries keeps them by the html's hash; the parent merges them)
    sections = tuple(sec for sec, _ in ctx.site.config.lists)
    before = set(accumulate.SECTIONS)
    for i, r in zip(indices, out):
        if docs[i].kind == "post" and r.html:
            for sec in sections:
                accumulate.raw_entries(r.html, sec, sections)
    return out, {k: v for k, v in accumulate.SECTIONS.items() if k not in before}


def render_markdown(site: Site, hooks: Hooks, ctx: RenderContext, jobs: int | None,
                    cache: BuildCache | None = None) -> list[Rendered]:
    """Every document's Markdown: from the cache when its source and what its references
    resolve to are unchanged, else rendered (in forked workers when many)."""
    docs = site.documents
    out: list = [None] * len(docs)
    todo = []
    for i, d in enumerate(docs):
        hit = cache.cached_markdown(d, hooks, ctx) if cache is not None else None
        if hit is None:
            todo.append(i)
        else:
            out[i] = hit
    if not todo:
        return out
    if cache is not None:
        for i in todo:
            cache.markdown_key(docs[i], hooks)
    n_jobs = _jobs(jobs, len(todo))
    if n_jobs > 1:
        # interleaved chunks balance long and short documents across workers
        n = n_jobs * 4
        chunks = [todo[i::n] for i in range(n)]
        for idx, (part, sections) in zip(chunks, _fork_map(_markdown_chunk, (docs, hooks, ctx), chunks, n_jobs)):
            for i, r in zip(idx, part):
                out[i] = r
            accumulate.SECTIONS.update(sections)
    else:
        from .markdown import MarkdownRenderer
        renderer = MarkdownRenderer(hooks, ctx)
        for i in todo:
            out[i] = renderer.render(docs[i])
    if cache is not None:
        for i in todo:
            cache.store_markdown(docs[i], out[i])
    return out
