#!/usr/bin/env python3
"""Site build speed, side by side with Pelican and Hugo: clean build, no-op rebuild, one edit.

    python bench/site_speed.py [N ...] [--repeat 3] [--tools studylog,pelican,hugo] [--jobs N]

For each N (default 100 1000 5000) it writes N synthetic diary posts (Japanese text, lists,
code, inline and display math, tags, series, post: links, and every 50th post references a
small fixture experiment result with exp:), then times, as separate processes from the
command line (so start-up counts), the best of --repeat runs of:

    clean     no output and no cache (the last ones are set aside, deleted after the run)
    no-op     the same build again
    1st edit  after appending a line to one post (studylog: also fills its spare tree)
    1 edit    after appending another line: an edit as every later one in a session

Each round runs every tool in turn, so a machine that speeds up or slows down meanwhile
weighs on all of them alike. The tools run as installed Python runs them, writing bytecode
(PYTHONDONTWRITEBYTECODE, which a sandbox may set, is dropped for them).

and the peak RSS of the largest process of the clean build (os.wait4's ru_maxrss).
studylog is measured twice: as built by default (with the Pagefind search index, which Pagefind
remakes whole whenever a page changed) and with --no-search, like for like with the other two.

The same corpus is laid out for the other tools when installed (both are bench-only, never
requirements of studylog):
    Pelican  `pip install pelican`; content/*.md with Pelican metadata, its default theme,
             its content cache on for the no-op and one-edit runs (its fastest rebuild)
    Hugo     `apt-get install -y hugo` (Debian's); content/posts/*.md and a minimal theme
             (post, paginated list, tag pages); Hugo has no incremental CLI build, so its
             no-op and one-edit runs are full builds
Neither renders the TeX (no math plugin), so they do a little less work per post.

Machine load from other processes inflates wall time: the load average is printed before
and after, and each cell also shows the CPU seconds the build used (user + system, workers
included).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = ("今週は 論文 を 読んで 実装 した 。 生成器 と 識別器 の 学習 が 不安定 だった ので 学習率 を "
         "下げて みた 。 勉強会 に 参加 して 強化学習 の 話 を 聞いた 。 次は 再現 実験 を したい").split()
TAGS = ["日記", "GAN", "強化学習", "論文", "Keras", "数学", "勉強会", "Python"]
EXPERIMENT = """---
title: ベンチ用の実験
date: 2017-12-15
tags: [GAN]
experiment:
  model: fast
  digits: [1]
  steps: 20
  sample_every: 10
---
ベンチマーク用の小さな結果。
"""


def para(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(WORDS) for _ in range(n))


def post_parts(i: int, rng: random.Random) -> dict:
    """One post as parts, so each tool gets the same text in its own layout."""
    date = dt.date(2015, 1, 1) + dt.timedelta(days=i)
    return {
        "i": i, "date": date, "title": f"{date:%Y-%m-%d} 週の日記 {i}", "tags": rng.sample(TAGS, 3),
        "series": f"練習{i % 20}" if i % 5 == 0 else None, "part": i // 20 + 1,
        "p": [para(rng, 40), para(rng, 20), para(rng, 12), para(rng, 12), para(rng, 8), para(rng, 60),
              para(rng, 10), para(rng, 10)],
    }


def body(d: dict, link_post, link_exp, image_exp) -> str:
    i, p = d["i"], d["p"]
    exp = ""
    if i % 50 == 0:
        exp = f"\n\n[小さな実験]({link_exp()}) の最後の格子:\n\n![step 20]({image_exp()})\n"
    prev = f" [前の記事]({link_post(i - 1)})" if i else ""
    return f"""{p[0]} $\\theta_{{t+1}} = \\theta_t - \\eta \\nabla L(\\theta_t)$ {p[1]}

## 読んだ記事

- {p[2]} [arXiv](https://arxiv.org/abs/1711.{i:05d})
- {p[3]} と $p(x \\mid z)$
    - {p[4]}

## その他

$$
\\min_G \\max_D V(D, G) = \\mathbb{{E}}_{{x}}[\\log D(x)] + \\mathbb{{E}}_{{z}}[\\log(1 - D(G(z)))]
$$

```python
def train_step(images, step={i}):
    noise = tf.random.normal([64, 100])
    return generator(noise) * 0.5 + 0.5
```

| step | d_loss | g_loss |
|-----:|-------:|-------:|
| {i} | 0.69 | 0.71 |

{p[5]}{exp}

## 来週やりたいこと

1. {p[6]}
2. {p[7]}{prev}
"""


# --- corpora ---------------------------------------------------------------------------------

def lay_out_studylog(root: Path, posts: list[dict]) -> None:
    content = root / "content"
    (content / "posts").mkdir(parents=True)
    (content / "pages").mkdir()
    (content / "experiments").mkdir()
    (content / "site.toml").write_text('title = "ベンチマーク"\nbase_url = "https://example.github.io/studylog/"\n',
                                       encoding="utf-8")
    (content / "pages" / "about.md").write_text("---\ntitle: about\n---\nベンチ用。\n", encoding="utf-8")
    (content / "experiments" / "fixture.md").write_text(EXPERIMENT, encoding="utf-8")
    for d in posts:
        series = f"series: {d['series']}\npart: {d['part']}\n" if d["series"] else ""
        text = body(d, lambda j: f"post:p{j:05d}", lambda: "exp:fixture", lambda: "exp:fixture@20")
        (content / "posts" / f"p{d['i']:05d}.md").write_text(
            f"---\ntitle: {d['title']}\ndate: {d['date']}\ntags: [{', '.join(d['tags'])}]\n{series}---\n{text}",
            encoding="utf-8")
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_results import write_fake_result   # a stored result with the real key, no training
    write_fake_result(root / "results", content / "experiments" / "fixture.md")


def lay_out_pelican(root: Path, posts: list[dict]) -> None:
    content = root / "content"
    (content / "pages").mkdir(parents=True)
    (root / "pelicanconf.py").write_text(f"""\
AUTHOR = "bench"
SITENAME = "ベンチマーク"
SITEURL = ""
PATH = "content"
TIMEZONE = "Asia/Tokyo"
DEFAULT_LANG = "ja"
DEFAULT_PAGINATION = 10
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
CACHE_PATH = {str(root / "cache")!r}
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
""", encoding="utf-8")
    (content / "pages" / "about.md").write_text("Title: about\n\nベンチ用。\n", encoding="utf-8")
    (content / "pages" / "fixture.md").write_text("Title: ベンチ用の実験\nSlug: fixture\n\nベンチマーク用の小さな結果。\n",
                                                   encoding="utf-8")
    for d in posts:
        series = f"Series: {d['series']}\n" if d["series"] else ""
        text = body(d, lambda j: f"{{filename}}/p{j:05d}.md", lambda: "{filename}/pages/fixture.md",
                    lambda: "https://example.invalid/fixture/step-000020.png")
        (content / f"p{d['i']:05d}.md").write_text(
            f"Title: {d['title']}\nDate: {d['date']}\nTags: {', '.join(d['tags'])}\nSlug: p{d['i']:05d}\n{series}\n{text}",
            encoding="utf-8")


HUGO_BASEOF = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{{ .Title }} | {{ .Site.Title }}</title></head>
<body><header><a href="{{ "" | relURL }}">{{ .Site.Title }}</a> <a href="{{ "tags/" | relURL }}">タグ</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
"""
HUGO_SINGLE = """{{ define "main" }}<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2006-01-02" }}</time>
{{ range .Params.tags }}<a href="{{ "tags/" | relURL }}{{ . | urlize }}/">#{{ . }}</a> {{ end }}
{{ .TableOfContents }}{{ .Content }}</article>
<nav>{{ with .PrevInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}
{{ with .NextInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav>{{ end }}
"""
HUGO_LIST = """{{ define "main" }}<h1>{{ .Title }}</h1>
{{ $pages := .Pages }}{{ if .IsHome }}{{ $pages = where .Site.RegularPages "Section" "posts" }}{{ end }}
{{ $pager := .Paginate $pages }}
<ul>{{ range $pager.Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ .Summary }}</li>{{ end }}</ul>
{{ if $pager.HasNext }}<a href="{{ $pager.Next.URL }}">次</a>{{ end }}{{ end }}
"""
HUGO_TERMS = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Data.Terms.Alphabetical }}
<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> {{ .Count }}</li>{{ end }}</ul>{{ end }}
"""


def lay_out_hugo(root: Path, posts: list[dict]) -> None:
    (root / "content" / "posts").mkdir(parents=True)
    (root / "layouts" / "_default").mkdir(parents=True)
    (root / "hugo.toml").write_text("""\
baseURL = "https://example.github.io/studylog/"
title = "ベンチマーク"
languageCode = "ja"
hasCJKLanguage = true
paginate = 10
disableKinds = ["RSS"]
[taxonomies]
tag = "tags"
[markup.goldmark.renderer]
unsafe = true
""", encoding="utf-8")
    for name, text in (("baseof.html", HUGO_BASEOF), ("single.html", HUGO_SINGLE), ("list.html", HUGO_LIST),
                       ("terms.html", HUGO_TERMS)):
        (root / "layouts" / "_default" / name).write_text(text, encoding="utf-8")
    (root / "content" / "about.md").write_text("---\ntitle: about\n---\nベンチ用。\n", encoding="utf-8")
    (root / "content" / "fixture.md").write_text("---\ntitle: ベンチ用の実験\n---\nベンチマーク用の小さな結果。\n",
                                                 encoding="utf-8")
    for d in posts:
        series = f"series: [{d['series']}]\n" if d["series"] else ""
        text = body(d, lambda j: f"/studylog/posts/p{j:05d}/", lambda: "/studylog/fixture/",
                    lambda: "https://example.invalid/fixture/step-000020.png")
        (root / "content" / "posts" / f"p{d['i']:05d}.md").write_text(
            f"---\ntitle: \"{d['title']}\"\ndate: {d['date']}\ntags: [{', '.join(d['tags'])}]\n{series}---\n{text}",
            encoding="utf-8")


# --- the tools -------------------------------------------------------------------------------

class Tool:
    name = ""
    edit_file = ""     # relative to the tool's folder

    def __init__(self, root: Path, jobs: int | None):
        self.root, self.jobs = root, jobs

    def available(self) -> bool:
        return True

    def command(self) -> list[str]:
        raise NotImplementedError

    def outputs(self) -> list[Path]:
        """The output and every cache: what a clean build starts without."""
        raise NotImplementedError

    def clear(self) -> None:
        for path in self.outputs():
            discard(path)

    def check(self) -> str:
        """A short proof that the build made what we think (count of HTML files)."""
        return f"{sum(1 for _ in self.out.rglob('*.html'))} html"


class Studylog(Tool):
    name = "studylog"
    edit_file = "content/posts/p{mid:05d}.md"

    @property
    def out(self) -> Path:
        return self.root / "_site"

    def command(self):
        cmd = [sys.executable, str(ROOT / "build.py"), "--content", str(self.root / "content"),
               "--out", str(self.out), "-q"]
        help_text = subprocess.run([sys.executable, str(ROOT / "build.py"), "--help"], capture_output=True,
                                   text=True, cwd=ROOT).stdout
        if "--frozen" in help_text:   # never train in a benchmark; the fixture result is stored
            cmd += ["--frozen", "--results", str(self.root / "results")]
        if self.jobs:
            cmd += ["--jobs", str(self.jobs)]
        return cmd

    def outputs(self):
        return [self.out, self.root / ".studylog-cache"]


class StudylogNoSearch(Studylog):
    """The like-for-like row: Pelican and Hugo build no search index, studylog's default runs
    Pagefind over the whole site whenever a page changed (Pagefind has no incremental mode)."""
    name = "studylog --no-search"

    def command(self):
        return super().command() + ["--no-search"]


class Pelican(Tool):
    name = "pelican"
    edit_file = "content/p{mid:05d}.md"

    @property
    def out(self) -> Path:
        return self.root / "output"

    def available(self):
        return shutil.which("pelican") is not None

    def command(self):
        return ["pelican", str(self.root / "content"), "-o", str(self.out), "-s",
                str(self.root / "pelicanconf.py"), "-q"]

    def outputs(self):
        return [self.out, self.root / "cache"]


class Hugo(Tool):
    name = "hugo"
    edit_file = "content/posts/p{mid:05d}.md"

    @property
    def out(self) -> Path:
        return self.root / "public"

    def available(self):
        return shutil.which("hugo") is not None

    def command(self):
        # its cache in the tool's folder: by default Hugo keeps one in /tmp/hugo_cache, which
        # would outlive the run and make its "clean" build not quite clean
        return ["hugo", "--quiet", "-s", str(self.root), "-d", str(self.out),
                "--cacheDir", str(self.root / "hugo_cache")]

    def outputs(self):
        return [self.out, self.root / "resources", self.root / "hugo_cache"]


# Deleted files are set aside, not deleted, until the whole run is over. An ext4 without a
# journal (this VM's disk) skips inodes freed in the last 60-300 s when it makes new ones
# (ialloc.c, recently_deleted): a site deleted just before a clean build made every file that
# build creates cost 0.5-0.9 ms of kernel time instead of 0.05 ms, whichever tool it was.
# The run's own final delete weighs on a run started within minutes after it the same way.
TRASH: Path | None = None     # set by main(); without it, discard() deletes


def discard(path: Path) -> None:
    if TRASH is None:
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        TRASH.mkdir(exist_ok=True)
        os.rename(path, Path(tempfile.mkdtemp(dir=TRASH)) / path.name)


# Python as installed runs: writing and reusing bytecode (a sandbox may turn that off, which
# would have studylog compile its own modules on every run while Pelican's were compiled by pip)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """-> (wall seconds, CPU seconds, peak RSS in KiB of its largest process)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode(errors='replace')[-3000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def measure(tools: list[Tool], n: int, repeat: int) -> list[dict]:
    """Best of `repeat` rounds; each round runs every tool in turn (clean, no-op, one edit),
    so that a machine slowing down or speeding up meanwhile weighs on all of them alike."""
    res: list[dict] = [{"clean": [], "rss": [], "noop": [], "first": [], "edit": []} for _ in tools]
    for k in range(repeat):
        for tool, r in zip(tools, res):
            cmd = tool.command()
            tool.clear()
            r["clean"].append(run(cmd, tool.root))
            r["noop"].append(run(cmd, tool.root))
            with open(tool.root / tool.edit_file.format(mid=n // 2), "a", encoding="utf-8") as f:
                f.write(f"\n追記 {k}: 一つだけ直した。\n")
            # studylog's first edit after a clean build also fills the spare tree that every
            # later edit updates in place: timed apart ("1st edit"); "1 edit" is the next one
            r["first"].append(run(cmd, tool.root))
            with open(tool.root / tool.edit_file.format(mid=n // 2), "a", encoding="utf-8") as f:
                f.write(f"\n追記 {k}b: もう一つ直した。\n")
            r["edit"].append(run(cmd, tool.root))
    out = []
    for tool, r in zip(tools, res):
        out.append({"clean": min(r["clean"]), "rss": max(x[2] for x in r["clean"]), "noop": min(r["noop"]),
                    "first": min(r["first"]), "edit": min(r["edit"]), "check": tool.check()})
    return out


def fmt(r) -> str:
    return f"{r[0]:6.2f}s ({r[1]:5.1f})"


def positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sizes", type=positive, nargs="*", default=[100, 1000, 5000])
    ap.add_argument("--repeat", type=positive, default=3)
    ap.add_argument("--tools", default="studylog,studylog-nosearch,pelican,hugo")
    ap.add_argument("--jobs", type=int, default=None, help="studylog --jobs (default: auto)")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpora")
    args = ap.parse_args()
    wanted = args.tools.split(",")
    kinds = {"studylog": (Studylog, lay_out_studylog), "studylog-nosearch": (StudylogNoSearch, lay_out_studylog),
             "pelican": (Pelican, lay_out_pelican),
             "hugo": (Hugo, lay_out_hugo)}
    unknown = [t for t in wanted if t not in kinds]
    if unknown:
        ap.error(f"unknown tool {', '.join(unknown)}; choose from {','.join(kinds)}")
    print(f"machine: {os.cpu_count()} CPUs; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    table = []
    global TRASH
    tmp = Path(tempfile.mkdtemp(prefix="studylog-bench-"))
    TRASH = tmp / "trash"
    try:
        for n in args.sizes:
            rng = random.Random(0)
            posts = [post_parts(i, rng) for i in range(n)]
            tools = []
            for name in wanted:
                cls, lay_out = kinds[name]
                root = tmp / f"{name}-{n}"
                root.mkdir()
                tool = cls(root, args.jobs)
                if not tool.available():
                    print(f"{name}: not installed, skipped")
                    continue
                lay_out(root, posts)
                tools.append(tool)
            for tool, r in zip(tools, measure(tools, n, args.repeat)):
                table.append((n, tool.name, r))
                print(f"N={n:5d} {tool.name:20s} clean {fmt(r['clean'])}  no-op {fmt(r['noop'])}  "
                      f"1st edit {fmt(r['first'])}  1 edit {fmt(r['edit'])}  peak RSS {r['rss'] / 1024:6.0f} MiB  "
                      f"[{r['check']}]", flush=True)
                if not args.keep:
                    discard(tool.root)
    finally:
        if args.keep:
            shutil.rmtree(TRASH, ignore_errors=True)
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"best of {args.repeat}; wall seconds (CPU seconds, workers included); peak RSS = largest process\n")
    print(f"| {'N':>5} | {'tool':20} | {'clean':>16} | {'no-op':>16} | {'1st edit':>16} | {'1 edit':>16} "
          f"| {'peak RSS':>9} |")
    print(f"|{'-' * 7}|{'-' * 22}|{'-' * 18}|{'-' * 18}|{'-' * 18}|{'-' * 18}|{'-' * 11}|")
    for n, name, r in table:
        print(f"| {n:5d} | {name:20} | {fmt(r['clean']):>16} | {fmt(r['noop']):>16} | {fmt(r['first']):>16} "
              f"| {fmt(r['edit']):>16} | {r['rss'] / 1024:5.0f} MiB |")
    print()
    for n in args.sizes:
        rows = {name: r for m, name, r in table if m == n}
        for mine in ("studylog", "studylog --no-search"):
            ours = rows.get(mine)
            if not ours:
                continue
            for other in ("pelican", "hugo"):
                if other in rows:
                    ratios = "  ".join(f"{k} {ours[k][0] / rows[other][k][0]:.2f}x" for k in ("clean", "noop", "edit"))
                    print(f"N={n:5d} {mine} / {other} (wall; < 1 = studylog faster): {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
