#!/usr/bin/env python3
"""How fast could a clean build be that is made of studylog's libraries and nothing else?

    python bench/library_floor.py [N] [--repeat 3]

On site_speed's corpus of N posts (default 1000) it times, in one process, only what a
build cannot do without: read each post, load its front matter with PyYAML (libyaml),
convert its body with Python-Markdown and the same library extensions studylog configures
(tables, footnotes, toc with studylog's slugs, pymdownx superfences with Pygments and
studylog's two Pygments speed-ups; not studylog's own extensions: math, post:/exp: links),
render it with Jinja2 into a one-block template, and write it to its own folder. No listing
pages, no link check, no reading lists, no incremental bookkeeping. Each library is loaded
and used once before the clock starts, so start-up is counted once, apart.

It prints the stages of the run with the least CPU in all, the ideal wall time on this
machine's cores (start-up + CPU / cores, as if every stage split perfectly), and beside it a
studylog --no-search clean build and Hugo's (when installed), timed in the same run; then
what is left of twice Hugo's time (issue 7's target) once the libraries alone have run.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import site_speed  # noqa: E402  (the corpus and the tool runners)

LIBS = "import markdown, jinja2, yaml, pygments, pymdownx.superfences, pymdownx.highlight"
TEMPLATE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/style.css"></head><body><header><a href="/">{{ site }}</a></header>
<main><article><h1>{{ title }}</h1><p>{{ date }} {% for t in tags %}<a href="/tags/{{ t }}/">{{ t }}</a> {% endfor %}</p>
{{ body | safe }}</article></main></body></html>
"""


def floor(content: Path, out: Path) -> dict[str, float]:
    """CPU seconds of each stage, in this process."""
    import jinja2
    import markdown
    import yaml

    from studylog import markdown as studylog_markdown   # noqa: F401 (its Pygments speed-ups)
    from studylog.slugs import toc_slugify
    md = markdown.Markdown(
        extensions=["tables", "footnotes", "attr_list", "def_list", "md_in_html", "pymdownx.highlight",
                    "pymdownx.superfences", "pymdownx.tilde", "toc"],
        extension_configs={"pymdownx.highlight": {"use_pygments": True, "css_class": "highlight",
                                                  "guess_lang": False},
                           "toc": {"slugify": toc_slugify, "permalink": "#", "toc_depth": "2-4"}},
        output_format="html")
    tpl = jinja2.Environment(autoescape=True).from_string(TEMPLATE)
    files = sorted((content / "posts").glob("*.md"))
    warm = files[0].read_text(encoding="utf-8").split("---\n", 2)  # every module loaded before timing
    tpl.render(site="bench", body=md.convert(warm[2]), **yaml.load(warm[1], Loader=yaml.CSafeLoader))
    cpu = time.process_time
    t = cpu()
    texts = [f.read_text(encoding="utf-8") for f in files]
    t_read = cpu() - t
    t = cpu()
    docs = []
    for text in texts:
        _, fm, body = text.split("---\n", 2)
        docs.append((yaml.load(fm, Loader=yaml.CSafeLoader), body))
    t_yaml = cpu() - t
    t = cpu()
    bodies = []
    for _, body in docs:
        md.reset()
        bodies.append(md.convert(body))
    t_md = cpu() - t
    t = cpu()
    pages = [tpl.render(site="bench", body=b, **meta) for (meta, _), b in zip(docs, bodies)]
    t_jinja = cpu() - t
    t = cpu()
    for f, html in zip(files, pages):
        d = out / "posts" / f.stem
        d.mkdir(parents=True)
        (d / "index.html").write_text(html, encoding="utf-8")
    t_write = cpu() - t
    return {"read": t_read, "yaml": t_yaml, "markdown": t_md, "jinja2": t_jinja, "write": t_write}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=site_speed.positive, nargs="?", default=1000)
    ap.add_argument("--repeat", type=site_speed.positive, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(floor(Path(args.child[0]), Path(args.child[1]))))
        return 0
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="studylog-floor-"))
    site_speed.TRASH = tmp / "trash"
    try:
        return measure(args, cores, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(args, cores: int, tmp: Path) -> int:
    rng = random.Random(0)
    posts = [site_speed.post_parts(i, rng) for i in range(args.n)]
    tools = [site_speed.StudylogNoSearch(tmp / "studylog", None), site_speed.Hugo(tmp / "hugo", None)]
    site_speed.lay_out_studylog(tools[0].root, posts)
    if tools[1].available():
        site_speed.lay_out_hugo(tools[1].root, posts)
    else:
        tools.pop()
    runs: list[dict[str, float]] = []
    starts, walls = [], {t.name: [] for t in tools}
    for k in range(args.repeat):   # interleaved, as in site_speed
        starts.append(site_speed.run([sys.executable, "-c", LIBS], tmp)[0])
        out = tmp / f"floor-out-{k}"
        res = subprocess.run([sys.executable, __file__, "--child", str(tools[0].root / "content"), str(out)],
                             capture_output=True, text=True, check=True, env=site_speed.ENV)
        runs.append(json.loads(res.stdout))
        for tool in tools:
            tool.clear()
            walls[tool.name].append(site_speed.run(tool.command(), tool.root)[0])
    best = min(runs, key=lambda r: sum(r.values()))
    start, cpu = min(starts), sum(best.values())
    print(f"N={args.n}, {cores} cores, best of {args.repeat}\n")
    print(f"python start + library imports  {start:6.2f} s wall")
    for stage, s in best.items():
        print(f"{stage:31s}  {s:6.2f} CPU-s")
    print(f"{'libraries alone, all stages':31s}  {cpu:6.2f} CPU-s")
    ideal = start + cpu / cores
    print(f"\nideal wall of the floor: {start:.2f} + {cpu:.2f} / {cores} = {ideal:.2f} s")
    for name, w in walls.items():
        print(f"{name:22s} clean build {min(w):6.2f} s wall")
    if "hugo" in walls:
        target = 2 * min(walls["hugo"])
        print(f"\n2x hugo = {target:.2f} s; the floor alone uses {ideal / target:.0%} of it, "
              f"leaving {target - ideal:.2f} s for everything else a build does")
    return 0


if __name__ == "__main__":
    sys.exit(main())
