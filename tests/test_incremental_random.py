"""Incremental builds equal clean builds, byte for byte, under random edits.

Each seed applies a sequence of random changes (post edits, additions, renames, deletions,
drafts, template overrides added/changed/removed, site.toml changes, image swaps), then
builds incrementally into one folder and from scratch into another, and compares the trees.
"""
from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest

from studylog.build import BuildOptions, build
from studylog.errors import ContentError

from conftest import SITE_TOML, ROOT
from fake_results import fake_all, write_fake_result

TAGS = ["日記", "GAN", "強化学習", "論文", "数学", "Keras"]
WORDS = "今週は 論文を 読んだ 。 生成器 と 識別器 学習率 を 下げた 実装 した 再現 実験".split()
DEFAULT_BASE = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
DEFAULT_POST = (ROOT / "templates" / "post.html").read_text(encoding="utf-8")
DEFAULT_MACROS = (ROOT / "templates" / "_macros.html").read_text(encoding="utf-8")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def png(w: int, h: int) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, "PNG")
    return buf.getvalue()


class Diary:
    """A content folder and the random changes applied to it."""

    def __init__(self, root: Path, rng: random.Random):
        self.root, self.rng = root, rng
        self.n = 0
        self.write("site.toml", SITE_TOML)
        self.write("pages/about.md", "---\ntitle: このサイトについて\n---\n勉強の記録。[ハブ](../posts/hub.md)\n")
        self.write("posts/hub.md", self.post("ハブ", "2017-12-01", "すべての[始まり](post:about)。", tags=["日記"]))
        self.write("images/fig.png", png(8, 6))
        self.write("experiments/exp1.md", "---\ntitle: 実験 1\ndate: 2017-12-15\ntags: [GAN]\n"
                                          "experiment: {steps: 5}\n---\n物語。[ハブ](post:hub)\n")
        self.write("posts/paper.md", self.post("論文メモ", "2017-11-20", "メモ。", tags=["論文"],
                                               extra='paper: {title: 論文 1, authors: [A], year: 2017, arxiv: "1711.00001"}\n'))
        fake_all(root, root.parent / "results")      # stored results: these builds never train
        for _ in range(6):
            self.add_post()

    def write(self, rel: str, data: str | bytes) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    def posts(self) -> list[Path]:
        return sorted(p for p in (self.root / "posts").glob("*.md") if p.name != "hub.md")

    def words(self, n: int) -> str:
        return "".join(self.rng.choice(WORDS) for _ in range(n))

    def post(self, title: str, date: str, body: str, tags=(), extra: str = "") -> str:
        return f"---\ntitle: {title}\ndate: {date}\ntags: [{', '.join(tags)}]\n{extra}---\n{body}\n"

    def random_post(self) -> str:
        r = self.rng
        self.n += 1
        day = r.randint(1, 60)
        date = f"2017-{10 + day // 30:02d}-{day % 30 + 1:02d}"
        body = [self.words(12)]
        if r.random() < 0.5:
            body.append("[ハブへ](post:hub) と [about](post:about)")
        if r.random() < 0.3:
            body.append("![図](../images/fig.png)")
        if r.random() < 0.3:
            body.append("[ハブのファイル](hub.md)")
        if r.random() < 0.3:
            body.append("[実験 1](exp:exp1) の結果: ![最後](exp:exp1@5)")
        if r.random() < 0.3:
            body.append("$\\theta_{t+1} = \\theta_t$\n\n```python\nprint('x')\n```")
        if r.random() < 0.3:
            body.append("## 見出し\n\n" + self.words(5))
        if r.random() < 0.4:    # the accumulated lists: a URL shared across weeks, one a paper note links
            items = [f"- [論文 {k}](https://arxiv.org/abs/1711.0000{k}) — {self.words(3)}" for k in r.sample(range(4), 2)]
            body.append("## 読んだ記事\n\n" + "\n".join(items))
        if r.random() < 0.2:
            body.append(f"## 参加したイベント\n\n- 勉強会 {self.words(2)}：{self.words(3)}")
        extra = ""
        if r.random() < 0.3:
            extra += f"series: 練習\npart: {self.n}\n"
        if r.random() < 0.15:
            extra += "draft: true\n"
        if r.random() < 0.2:
            extra += f"summary: 要約 {self.words(3)}\n"
        return self.post(f"記事 {self.n} {self.words(2)}", date, "\n\n".join(body),
                         tags=r.sample(TAGS, r.randint(0, 3)), extra=extra)

    def add_post(self) -> str:
        name = f"posts/p{self.rng.randrange(10**6):06d}.md"
        self.write(name, self.random_post())
        return f"add {name}"

    # --- the changes ---
    def edit_body(self):
        p = self.rng.choice(self.posts())
        p.write_text(p.read_text(encoding="utf-8") + "\n" + self.words(6) + "\n", encoding="utf-8")
        return f"edit body {p.name}"

    def edit_section(self):
        """A reading-list item added to a diary (or its first section): only the list pages,
        tag pages and paper notes change, not the post's listing."""
        p = self.rng.choice(self.posts())
        text = p.read_text(encoding="utf-8")
        k = self.rng.randrange(4)
        item = f"- [論文 {k}](https://arxiv.org/abs/1711.0000{k}) — {self.words(2)}\n"
        head = "## 読んだ記事\n\n"
        text = text.replace(head, head + item, 1) if head in text else text + "\n" + head + item
        p.write_text(text, encoding="utf-8")
        return f"edit section {p.name}"

    def replace_post(self):
        p = self.rng.choice(self.posts())
        p.write_text(self.random_post(), encoding="utf-8")
        return f"rewrite {p.name}"

    def rename(self):
        p = self.rng.choice(self.posts())
        new = p.with_name(f"r{self.rng.randrange(10**6):06d}.md")
        p.rename(new)
        return f"rename {p.name} -> {new.name}"

    def delete(self):
        if len(self.posts()) > 2:
            p = self.rng.choice(self.posts())
            p.unlink()
            return f"delete {p.name}"
        return self.add_post()

    def retitle_hub(self):
        # the hub's URL changes: every post linking to it must be rendered again
        self.write("posts/hub.md", self.post(f"ハブ {self.words(2)}", "2017-12-01", "すべての[始まり](post:about)。",
                                             tags=["日記"]))
        return "retitle hub"

    def swap_image(self):
        self.write("images/fig.png", png(self.rng.randint(4, 20), self.rng.randint(4, 20)))
        return "swap image"

    def rerun(self):
        # a new stored result (still fresh: these builds never train): pages showing it change
        d = write_fake_result(self.root.parent / "results", self.root / "experiments" / "exp1.md")
        (d / "loss.png").write_bytes(png(self.rng.randint(20, 40), 20))
        (d / "samples" / "step-000005.png").write_bytes(png(self.rng.randint(20, 40), 20))
        return "new result"

    def template(self):
        r = self.rng
        name, text = r.choice([("base.html", DEFAULT_BASE), ("post.html", DEFAULT_POST),
                               ("_macros.html", DEFAULT_MACROS)])
        target = self.root / "templates" / name
        if target.exists() and r.random() < 0.4:
            target.unlink()
            return f"remove override {name}"
        marker = f"<!-- {self.words(2)} -->"
        if name == "_macros.html" and r.random() < 0.5:
            # lists show whole bodies: list pages depend on every listed document's HTML
            text = text.replace("{{ meta(d) }}", "{{ meta(d) }}{{ d.html|safe_html }}")
        elif name == "_macros.html":
            text = text.replace('<ul class="post-list">', f'<ul class="post-list">{marker}')
        elif name == "base.html" and r.random() < 0.5:
            # reads the `site` global: every page depends on every document
            text = text.replace("</footer>", "<p>{{ site.posts|length }} 件</p></footer>")
        else:
            text = text.replace("</main>", f"{marker}</main>") if "</main>" in text else text + marker
        self.write(f"templates/{name}", text)
        return f"override {name}"

    def static(self):
        self.write("templates/static/style.css", f"body {{ color: #{self.rng.randrange(4096):03x}; }}\n")
        return "override style.css"

    def config(self):
        r = self.rng
        lines = [f'title = "テスト日記 {self.words(1)}"', 'author = "テスト"',
                 f'description = "{self.words(3)}"', 'base_url = "https://example.github.io/studylog/"',
                 f"posts_per_page = {r.randint(1, 4)}"]
        if r.random() < 0.5:
            lines.append('[nav]\n"ホーム" = "home"\n"ハブ" = "post:hub"')
        self.write("site.toml", "\n".join(lines) + "\n")
        return "site.toml"

    def about(self):
        self.write("pages/about.md", f"---\ntitle: このサイトについて {self.words(1)}\n---\n{self.words(8)}\n")
        return "edit about"

    def change(self) -> str:
        ops = [(self.edit_body, 4), (self.edit_section, 3), (self.replace_post, 3), (self.add_post, 3), (self.rename, 2),
               (self.delete, 2), (self.retitle_hub, 1), (self.swap_image, 1), (self.template, 2),
               (self.static, 1), (self.config, 1), (self.about, 1), (self.rerun, 1)]
        fn = self.rng.choices([f for f, _ in ops], [w for _, w in ops])[0]
        return fn()


def build_both(content: Path, inc: Path, ref: Path):
    """-> (incremental result or error, clean result or error)."""
    out = []
    for target, clean in ((inc, False), (ref, True)):
        try:
            out.append(build(BuildOptions(content=content, out=target, jobs=1, quiet=True, clean=clean,
                                          skip_if_unchanged=not clean)))
        except ContentError as e:
            out.append(e)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_random_edits_match_clean_build(tmp_path, seed):
    rng = random.Random(seed)
    content, inc, ref = tmp_path / "content", tmp_path / "inc", tmp_path / "ref"
    diary = Diary(content, rng)
    history = ["initial"]
    for step in range(8):
        a, b = build_both(content, inc, ref)
        assert isinstance(a, ContentError) == isinstance(b, ContentError), (history, a, b)
        if not isinstance(a, ContentError):
            assert tree(inc) == tree(ref), f"seed {seed} after {history}"
        history = [diary.change() for _ in range(rng.randint(1, 3))]


def test_lists_showing_bodies_follow_body_edits(make_content, sample_files, tmp_path):
    files = dict(sample_files)
    files["templates/_macros.html"] = DEFAULT_MACROS.replace("{{ meta(d) }}", "{{ meta(d) }}{{ d.html|safe_html }}")
    content = make_content(files)
    fake_all(content, content.parent / "results")
    out, ref = tmp_path / "site", tmp_path / "ref"
    build(BuildOptions(content=content, out=out, jobs=1))
    p = content / "posts" / "old.md"
    p.write_text(p.read_text(encoding="utf-8") + "\n末尾の追記。\n", encoding="utf-8")
    build(BuildOptions(content=content, out=out, jobs=1))
    build(BuildOptions(content=content, out=ref, jobs=1, clean=True))
    assert tree(out) == tree(ref) and "末尾の追記" in (out / "archive" / "2017" / "11" / "index.html").read_text()


def test_templates_reading_the_site_global_follow_every_document(make_content, sample_files, tmp_path):
    files = dict(sample_files)
    files["templates/base.html"] = DEFAULT_BASE.replace("</footer>", "<p>{{ site.posts|length }} 件</p></footer>")
    content = make_content(files)
    fake_all(content, content.parent / "results")
    out, ref = tmp_path / "site", tmp_path / "ref"
    build(BuildOptions(content=content, out=out, jobs=1))
    (content / "posts" / "new.md").write_text("---\ntitle: 新しい\ndate: 2016-01-01\n---\n本文\n", encoding="utf-8")
    build(BuildOptions(content=content, out=out, jobs=1))
    build(BuildOptions(content=content, out=ref, jobs=1, clean=True))
    assert tree(out) == tree(ref) and "5 件" in (out / "about" / "index.html").read_text()


def test_quick_no_op_sees_every_kind_of_change(make_content, sample_files, tmp_path):
    """The up-to-date check (nothing the last build read changed) must notice new override
    templates, changed results, changed images and hand edits in the output."""
    files = dict(sample_files)
    files["templates/static/extra.css"] = "a{}"
    content = make_content(files)
    fake_all(content, content.parent / "results")
    out, ref = tmp_path / "site", tmp_path / "ref"

    def both():
        r = build(BuildOptions(content=content, out=out, jobs=1, skip_if_unchanged=True))
        build(BuildOptions(content=content, out=ref, jobs=1, clean=True))
        assert tree(out) == tree(ref)
        return r

    import time

    def settle():
        time.sleep(0.06)        # past the racy window: a build now records what it read...
        both()
        assert both().site is None       # ...and the next one answers "up to date"

    both()
    settle()
    changes = [
        lambda: (content / "templates" / "post.html").write_text(DEFAULT_POST.replace("</article>", "<!--x--></article>")),
        lambda: (content.parent / "results" / "fast-ones" / "loss.png").write_bytes(png(30, 20)),
        lambda: (content / "images" / "fig.png").write_bytes(png(9, 9)),
        lambda: (out / "index.html").write_text("tampered"),
        lambda: (content / "site.toml").write_text(SITE_TOML.replace("テスト日記", "別の日記"), encoding="utf-8"),
    ]
    for change in changes:
        change()
        assert both().site is not None
        settle()


def test_no_op_rebuild_writes_nothing_and_one_edit_redoes_little(make_content, sample_files, tmp_path):
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    out = tmp_path / "site"
    first = build(BuildOptions(content=content, out=out, jobs=1))
    ino = os.stat(out).st_ino
    again = build(BuildOptions(content=content, out=out, jobs=1))
    assert again.made == 0 and os.stat(out).st_ino == ino          # not even swapped
    p = content / "posts" / "old.md"
    p.write_text(p.read_text(encoding="utf-8") + "\n追記。\n", encoding="utf-8")
    edited = build(BuildOptions(content=content, out=out, jobs=1))
    assert 0 < edited.made < first.files / 2
    build(BuildOptions(content=content, out=tmp_path / "ref", jobs=1, clean=True))
    assert tree(out) == tree(tmp_path / "ref")


def test_hand_edits_and_strays_in_the_output_are_undone(make_content, sample_files, tmp_path):
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    out, ref = tmp_path / "site", tmp_path / "ref"
    build(BuildOptions(content=content, out=out, jobs=1))
    build(BuildOptions(content=content, out=ref, jobs=1, clean=True))
    page = out / "posts" / "ird" / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("代理報酬", "改竄"), encoding="utf-8")
    (out / "stray.html").write_text("x")
    (out / "emptydir").mkdir()
    build(BuildOptions(content=content, out=out, jobs=1))
    assert tree(out) == tree(ref) and not (out / "emptydir").exists()


def test_interrupted_incremental_build_leaves_the_previous_site(make_content, sample_files, tmp_path, monkeypatch):
    from studylog import render
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    out = tmp_path / "site"
    build(BuildOptions(content=content, out=out, jobs=1))
    before = tree(out)
    p = content / "posts" / "old.md"
    p.write_text(p.read_text(encoding="utf-8").replace("古い。", "新しい。"), encoding="utf-8")
    real, calls = render.render_page, []

    def flaky(env, page):
        calls.append(page.path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(env, page)
    monkeypatch.setattr(render, "render_page", flaky)
    with pytest.raises(KeyboardInterrupt):
        build(BuildOptions(content=content, out=out, jobs=1))
    assert tree(out) == before
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith(".") and q.name != ".studylog-cache"] == []
    monkeypatch.setattr(render, "render_page", real)
    build(BuildOptions(content=content, out=out, jobs=1))
    build(BuildOptions(content=content, out=tmp_path / "ref", jobs=1, clean=True))
    assert tree(out) == tree(tmp_path / "ref") and "新しい。" in (out / "posts" / "古い記事" / "index.html").read_text()


def test_setup_pages_and_handlers_follow_their_files(make_content, sample_files, tmp_path):
    """What the integration does: exp: links resolved from a result file, a page whose
    context holds a result file's Path, a copied asset. Changing the files redoes the pages."""
    from studylog.collect import Page
    from studylog.errors import RefError
    results = tmp_path / "results"
    results.mkdir()
    (results / "run.json").write_text('{"steps": 50}')
    (results / "grid.png").write_bytes(png(4, 4))
    files = dict(sample_files)
    files["posts/uses-exp.md"] = "---\ntitle: 実験の話\ndate: 2017-12-16\n---\n[実験](demo:fast-ones) 結果\n"
    files["templates/experiments.html"] = ('{% extends "base.html" %}{% block main %}'
                                           '{% if run is defined %}{{ run.read_text() }}{% endif %}{% endblock %}')

    def setup(site, hooks):
        def exp(ref):
            if site.experiment(ref.target) is None:
                raise RefError("unknown")
            steps = (results / "run.json").read_text()
            # a query, not a fragment: the build's link check would reject an anchor the page lacks
            return ref.ctx.urls.url("experiment", ref.target) + "?v=" + str(len(steps))
        hooks.register_link("demo", exp)
        site.assets["experiments/grid.png"] = results / "grid.png"
        site.pages_out.append(Page("experiments/gallery/", "experiments.html", "ギャラリー",
                                   {"experiments": site.experiments, "run": results / "run.json"}))

    content = make_content(files)
    fake_all(content, content.parent / "results")
    out, ref = tmp_path / "site", tmp_path / "ref"
    for change in (None, lambda: (results / "run.json").write_text('{"steps": 500}'),
                   lambda: (results / "grid.png").write_bytes(png(5, 5)), None):
        if change:
            change()
        build(BuildOptions(content=content, out=out, jobs=1), [setup])
        build(BuildOptions(content=content, out=ref, jobs=1, clean=True), [setup])
        assert tree(out) == tree(ref)
    assert "500" in (out / "experiments" / "gallery" / "index.html").read_text()


def test_search_index_is_reused_until_a_page_changes(make_content, sample_files, tmp_path, monkeypatch):
    from studylog import search
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")      # conftest turns Pagefind off elsewhere
    if not search.available():
        pytest.skip("pagefind not installed")
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    out, ref = tmp_path / "site", tmp_path / "ref"
    build(BuildOptions(content=content, out=out, jobs=1))
    index = {p: p.stat().st_ino for p in (out / "pagefind").rglob("*") if p.is_file()}
    assert index
    again = build(BuildOptions(content=content, out=out, jobs=1))
    assert again.made == 0 and "search" not in again.timings
    p = content / "posts" / "old.md"
    p.write_text(p.read_text(encoding="utf-8").replace("古い。", "検索される新しい言葉。"), encoding="utf-8")
    edited = build(BuildOptions(content=content, out=out, jobs=1))
    assert "search" in edited.timings
    build(BuildOptions(content=content, out=ref, jobs=1, clean=True))
    assert tree(out) == tree(ref)


def test_editing_one_diary_remakes_no_other_post_and_reparses_no_other(make_content, tmp_path, monkeypatch):
    """Measured at 1,000 posts: appending a line to one diary remade 1,013 pages (each post's
    note of where its sections are gathered read the `site` global, so it depended on every
    post) and parsed all 1,000 posts' html again to gather the reading list (2 s)."""
    from conftest import post
    from studylog import accumulate
    files = {f"posts/d{i:02d}.md": post(f"日記 {i}", f"2017-11-{i + 1:02d}",
                                        f"## 読んだ記事\n- [論文 {i}](https://arxiv.org/abs/1711.{i:05d})\n"
                                        f"- [共通の記事](https://example.com/shared)\n\n## その他\n本文 {i}。\n",
                                        tags="[日記]")
             for i in range(12)}
    content = make_content(files)
    out = tmp_path / "site"
    build(BuildOptions(content=content, out=out, jobs=1, quiet=True, search=False))
    pages = {p: os.stat(p).st_ino for p in (out / "posts").glob("*/index.html")}
    assert len(pages) == 12
    parsed = []
    real_parse = accumulate.htmltree.parse
    monkeypatch.setattr(accumulate.htmltree, "parse", lambda html: parsed.append(html) or real_parse(html))
    p = content / "posts" / "d05.md"
    p.write_text(p.read_text(encoding="utf-8") + "\n追記。\n", encoding="utf-8")
    edited = build(BuildOptions(content=content, out=out, jobs=1, quiet=True, search=False))
    remade = sorted(q.parent.name for q, ino in pages.items() if os.stat(q).st_ino != ino)
    assert remade == ["日記-5"], remade
    assert len(parsed) == 1 and "追記" in parsed[0]           # only the edited post's html
    assert 0 < edited.made < 12
    reading = (out / "reading" / "index.html").read_text(encoding="utf-8")
    assert reading.count("論文 ") == 12 and "共通の記事" in reading
    build(BuildOptions(content=content, out=tmp_path / "ref", jobs=1, quiet=True, search=False, clean=True))
    assert tree(out) == tree(tmp_path / "ref")


def test_the_build_after_training_remakes_nothing(make_content, tmp_path, monkeypatch):
    # the training build's pages were keyed with the plan's "missing" state, the next build's
    # with "fresh": the same bytes, every experiment page made again
    from studylog import experiments
    content = make_content({"experiments/e.md": "---\ntitle: 実験\ndate: 2017-12-10\n"
                                                "experiment: {steps: 5}\n---\n物語。\n"})
    results = tmp_path / "results"

    def fake_training(plans, results_root, **kw):
        for p in plans:
            write_fake_result(results_root, p.doc.path)
        return [p.name for p in plans]
    monkeypatch.setattr(experiments, "run_plans", fake_training)
    opts = BuildOptions(content=content, out=tmp_path / "_site", quiet=True, results=results, search=False)
    first = build(opts)
    assert (results / "e" / "run.json").exists() and first.made == first.files
    again = build(opts)
    assert again.made == 0, again.made


def test_a_failed_build_then_a_good_one_leaves_no_temporary_files(make_content, tmp_path):
    """Found by review: a build that failed after hard-linking live pages into the spare tree
    (its manifest unsaved), then a good build, published `.index.html.PID.tmp` files: the
    good build linked the same file again, and renaming a hard link over itself does nothing."""
    from conftest import post
    posts = {"posts/a.md": post("A", "2017-12-04", "A。"), "posts/b.md": post("B", "2017-12-05", "B。")}
    content = make_content(posts)
    out, ref = tmp_path / "site", tmp_path / "ref"
    opts = dict(content=content, out=out, jobs=1, quiet=True, search=False)
    build(BuildOptions(**opts))
    (content / "posts" / "a.md").write_text(post("A2", "2017-12-04", "A。"), encoding="utf-8")
    build(BuildOptions(**opts))
    (content / "posts" / "b.md").write_text(post("B", "2017-12-05", "B。\n\n[x](#nowhere)"), encoding="utf-8")
    with pytest.raises(ContentError):
        build(BuildOptions(**opts))
    (content / "posts" / "b.md").write_text(post("B", "2017-12-05", "B。\n\nmore"), encoding="utf-8")
    build(BuildOptions(**opts))
    build(BuildOptions(content=content, out=ref, jobs=1, quiet=True, search=False, clean=True))
    assert tree(out) == tree(ref)


@pytest.mark.parametrize("cache_file", ["markdown-{}.pickle", "manifest.pickle", "linkcheck.pickle"])
def test_a_corrupt_cache_file_is_ignored(make_content, sample_files, tmp_path, cache_file):
    """Found by review: one flipped byte in a pickle's frame length made pickle.load raise
    MemoryError, which the Markdown store did not catch: every build, --clean too, crashed."""
    content = make_content(sample_files)
    past = os.stat(content).st_mtime - 10        # not "racy": the quick no-op record is kept
    for f in [content, *content.rglob("*")]:
        os.utime(f, (past, past))
    out, ref = tmp_path / "site", tmp_path / "ref"
    build(BuildOptions(content=content, out=out, jobs=1, quiet=True, search=False, skip_if_unchanged=True))
    cache = tmp_path / ".studylog-cache" / "site"
    files = sorted(cache.glob(cache_file.format("?")))
    assert files
    for f in files:
        data = bytearray(f.read_bytes())
        data[3:11] = b"\xff" * 8          # protocol 5's first frame: an absurd length
        f.write_bytes(bytes(data))
    edited = sorted((content / "posts").glob("*.md"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n追記。\n", encoding="utf-8")
    for clean in (False, True):
        build(BuildOptions(content=content, out=out, jobs=1, quiet=True, search=False, clean=clean,
                           skip_if_unchanged=not clean))
        build(BuildOptions(content=content, out=ref, jobs=1, quiet=True, search=False, clean=True))
        assert tree(out) == tree(ref)


def test_a_corrupt_quick_no_op_record_is_ignored(make_content, sample_files, tmp_path):
    from studylog import manifest
    out = tmp_path / "site"
    manifest.quick_path(out).parent.mkdir(parents=True)
    manifest.quick_path(out).write_bytes(b"\x80\x05\x95" + b"\xff" * 8 + b"junk")   # absurd frame length
    assert manifest.up_to_date(out, ("any",)) is None
