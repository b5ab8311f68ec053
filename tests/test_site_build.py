"""Whole builds: links, feed, sitemap, drafts, atomic output, CLI exit codes."""
from __future__ import annotations

import html.parser
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from conftest import ROOT, SITE_TOML, post

ATOM = "{http://www.w3.org/2005/Atom}"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])
        if a.get("id"):
            self.ids.add(a["id"])


def crawl(out: Path, prefix: str) -> list[str]:
    """Every internal href/src in every HTML page must name an existing file (and anchor)."""
    broken, pages = [], {}
    for f in out.rglob("*.html"):
        p = _Links()
        p.feed(f.read_text("utf-8"))
        pages[f] = p
    for f, p in pages.items():
        page_url = prefix + f.relative_to(out).as_posix()
        for link in p.links:
            scheme = urlsplit(link).scheme
            if scheme not in ("", "http", "https", "mailto", "data"):
                broken.append(f"{f}: {link} (unresolved {scheme}: reference)")
                continue
            parts = urlsplit(urljoin("http://h" + page_url, link))
            if parts.netloc != "h" or link.startswith(("http:", "https:", "mailto:")):
                continue
            path = unquote(parts.path)
            if not path.startswith(prefix):
                broken.append(f"{f}: {link} (outside {prefix})")
                continue
            target = out / path[len(prefix):]
            if target.is_dir() or path.endswith("/"):
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{f}: {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{f}: {link} (no such anchor)")
    return broken


@pytest.mark.parametrize("base, prefix", [("/", "/"), ("/studylog/", "/studylog/"),
                                          ("https://example.github.io/studylog", "/studylog/")])
def test_no_broken_internal_links(make_content, run_build, sample_files, base, prefix):
    code, _, err, out = run_build(make_content(sample_files), "--base-url", base)
    assert code == 0, err
    html_files = list(out.rglob("*.html"))
    assert len(html_files) > 15
    assert crawl(out, prefix) == []
    # each page kind exists where urls.py says
    for rel in ["index.html", "page/2/index.html", "posts/ird/index.html", "about/index.html",
                "archive/index.html", "archive/2017/12/index.html", "weeks/2017-W49/index.html",
                "tags/index.html", "tags/強化学習/index.html", "series/練習/index.html",
                "experiments/index.html", "experiments/fast-ones/index.html", "404.html",
                "feed.xml", "sitemap.xml", ".nojekyll", "static/style.css", "static/pygments.css",
                "assets/images/fig.png"]:
        assert (out / rel).is_file(), rel
    home = (out / "index.html").read_text()
    assert f'href="{prefix}static/style.css"' in home and '<html lang="ja">' in home


def test_feed_is_valid_atom(make_content, run_build, sample_files):
    files = dict(sample_files)
    files["posts/escape.md"] = post("'\"引用\" & <script>alert(1)</script>'", "2017-12-18",
                                    "AT&T と <b>太字</b> の要約。")
    code, _, err, out = run_build(make_content(files))
    assert code == 0, err
    root = ET.parse(out / "feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{tag}") is not None, tag
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 5   # drafts excluded
    for e in entries:
        for tag in ("id", "title", "updated", "link"):
            assert e.find(f"{ATOM}{tag}") is not None
        assert e.find(f"{ATOM}link").get("href").startswith("https://example.github.io/studylog/posts/")
        updated = e.find(f"{ATOM}updated").text
        assert updated[10] == "T" and updated.endswith("+09:00")
    first = entries[0]
    assert first.find(f"{ATOM}title").text == "\"引用\" & <script>alert(1)</script>"   # escaped once
    assert first.find(f"{ATOM}summary").text == "AT&T と 太字 の要約。"
    raw = (out / "feed.xml").read_text()
    assert "&amp;amp;" not in raw and "&lt;script&gt;" in raw
    page = (out / "posts" / "引用-script-alert-1-script" / "index.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sitemap(make_content, run_build, sample_files):
    code, _, err, out = run_build(make_content(sample_files))
    assert code == 0, err
    root = ET.parse(out / "sitemap.xml").getroot()
    locs = [e.text for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "https://example.github.io/studylog/posts/ird/" in locs
    assert all(l.startswith("https://example.github.io/studylog/") for l in locs)
    assert not any("404" in l for l in locs)


def test_drafts_excluded_everywhere_unless_asked(make_content, run_build, sample_files, tmp_path):
    content = make_content(sample_files)
    code, _, err, out = run_build(content)
    assert code == 0, err
    everything = "".join(p.read_text("utf-8") for p in out.rglob("*") if p.suffix in (".html", ".xml"))
    assert "書きかけ" not in everything and "秘密のタグ" not in everything
    assert not (out / "posts" / "書きかけ").exists()
    code, _, err, out2 = run_build(content, "--drafts", out=tmp_path / "with-drafts")
    assert code == 0, err
    assert (out2 / "posts" / "書きかけ" / "index.html").is_file()
    assert "書きかけ" in (out2 / "feed.xml").read_text()
    assert "書きかけ" in unquote((out2 / "sitemap.xml").read_text())


def test_link_to_draft_is_an_error(make_content, run_build, sample_files):
    files = dict(sample_files, **{"posts/x.md": post("x", "2017-12-01", "[d](post:draft)")})
    code, _, err, _ = run_build(make_content(files))
    assert code == 1 and "x.md:5: post:draft is a draft" in err


def test_failed_build_leaves_previous_output_untouched(make_content, run_build, sample_files):
    content = make_content(sample_files)
    code, _, err, out = run_build(content)
    assert code == 0, err
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (content / "posts" / "broken.md").write_text("---\ntitle: [\n---\n")
    (content / "posts" / "2017-12-04-diary.md").write_text(post("変更", "2017-12-10", "新しい本文"))
    code, _, err, _ = run_build(content)
    assert code == 1 and "broken.md:" in err
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    # no temp folder left behind (the incremental-build cache and the build lock are not ones)
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")
                 and p.name != ".studylog-cache"]
    assert leftovers == []


def test_rebuild_replaces_output_and_is_deterministic(make_content, run_build, sample_files, tmp_path):
    content = make_content(sample_files)
    out = tmp_path / "site"
    run_build(content, out=out)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "stale.html").write_text("old")
    code, _, err, _ = run_build(content, out=out)
    assert code == 0, err
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second   # byte for byte; the stale file is gone


def test_parallel_render_matches_serial(make_content, run_build, sample_files, tmp_path):
    content = make_content(sample_files)
    run_build(content, "--jobs", "1", out=tmp_path / "a")
    run_build(content, "--jobs", "2", out=tmp_path / "b")
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert a == b


def test_template_override_by_name(make_content, run_build, sample_files):
    files = dict(sample_files)
    files["templates/page.html"] = '{% extends "base.html" %}{% block main %}<p class="mine">{{ doc.title }}</p>{% endblock %}'
    files["templates/static/style.css"] = "body { color: red }"
    code, _, err, out = run_build(make_content(files))
    assert code == 0, err
    assert '<p class="mine">このサイトについて</p>' in (out / "about" / "index.html").read_text()
    assert (out / "static" / "style.css").read_text() == "body { color: red }"


def test_experiment_pages_are_parsed_and_exposed(make_content, sample_files):
    from studylog.build import BuildOptions, build
    from fake_results import fake_all
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    res = build(BuildOptions(content=content, out=content.parent / "o"))
    exp, undated = res.site.experiments
    assert exp.kind == "experiment" and exp.slug == "fast-ones" and undated.date is None
    assert exp.experiment == {"model": "fast", "steps": 50}
    assert exp.line_of(("experiment", "steps")) == 7
    assert exp in res.site.tags["実験"] and undated in res.site.tags["GAN"]
    assert "物語" in (content.parent / "o" / "experiments" / "fast-ones" / "index.html").read_text()


def test_series_and_prev_next(make_content, run_build, sample_files):
    code, _, err, out = run_build(make_content(sample_files))
    page = (out / "posts" / "2017-12-11-週の日記" / "index.html").read_text()
    assert "全2回中 第2回" in page and "前回: 2017-12-04 週の日記" in page
    assert "前の記事" in page   # older post link
    assert "#日記" in page


def test_site_toml_optional_and_errors(make_content, run_build):
    content = make_content({"posts/a.md": post("a", "2017-12-04")}, site_toml=None)
    code, _, err, out = run_build(content)
    assert code == 0, err and (out / "index.html").is_file()
    content2 = make_content({"posts/a.md": post("a", "2017-12-04")}, site_toml='title = "x"\nbogus = 1\ntimezone = "Mars/Base"\n', name="c2")
    code, _, err, _ = run_build(content2)
    assert code == 1 and "site.toml:2: unknown setting 'bogus'" in err and "site.toml:3: unknown timezone" in err


def test_usage_errors_exit_2(tmp_path, run_build, capsys):
    from studylog.cli import main
    with pytest.raises(SystemExit) as e:
        main(["--no-such-flag"])
    assert e.value.code == 2
    assert main(["--content", str(tmp_path / "missing")]) == 2


def test_cli_prints_every_error_and_never_imports_tensorflow(make_content):
    content = make_content({"posts/a.md": "", "posts/b.md": post("b", "2017-12-04", "[x](post:zz)")})
    # build.py leaves by os._exit when TensorFlow is not loaded: made a SystemExit here, so
    # that what was imported can still be looked at
    code = ("import os, sys, runpy; sys.argv=['build.py','--content',%r,'--out',%r]; os._exit=sys.exit"
            "\ntry: runpy.run_path('build.py', run_name='__main__')\nexcept SystemExit as e: rc=e.code"
            "\nbad=[m for m in ('tensorflow','matplotlib','keras') if m in sys.modules]"
            "\nprint('IMPORTED', bad); sys.exit(rc)") % (str(content), str(content.parent / "o"))
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 1
    assert "IMPORTED []" in p.stdout
    assert "a.md:1: empty file" in p.stderr and "b.md:5: unknown post 'zz'" in p.stderr


def test_broken_override_template_is_reported(make_content, run_build, sample_files):
    files = dict(sample_files)
    files["templates/page.html"] = '{% extends "base.html" %}\n{% block main %}\n{{ doc.nope.deeper }}\n{% endblock %}'
    code, _, err, out = run_build(make_content(files))
    assert code == 1 and "page.html:3: template error rendering /about/" in err
    assert not out.exists()


def test_tags_differing_in_case_share_one_page(make_content, run_build):
    content = make_content({"posts/a.md": post("a", "2017-12-04", tags="[GAN]"),
                            "posts/b.md": post("b", "2017-12-05", tags="[gan]")})
    code, _, err, out = run_build(content)
    assert code == 0, err
    page = (out / "tags" / "gan" / "index.html").read_text()
    assert ">a</a>" in page and ">b</a>" in page and page.count("<li><time") == 2


def test_tags_that_differ_only_in_symbols_keep_their_own_pages(make_content, run_build):
    # "C++" and "C#" once both became /tags/c/ and "C#" vanished; full-width "ＧＡＮ" is "GAN"
    content = make_content({"posts/a.md": post("a", "2017-12-04", tags='["C++", GAN]'),
                            "posts/b.md": post("b", "2017-12-05", tags='["C#", ＧＡＮ]')})
    code, _, err, out = run_build(content)
    assert code == 0, err
    cpp = (out / "tags" / "c-plus-plus" / "index.html").read_text()
    cs = (out / "tags" / "c-sharp" / "index.html").read_text()
    assert "タグ: C++" in cpp and ">a</a>" in cpp and ">b</a>" not in cpp
    assert "タグ: C#" in cs and ">b</a>" in cs and ">a</a>" not in cs
    gan = (out / "tags" / "gan" / "index.html").read_text()
    assert gan.count("<li><time") == 2
    index = (out / "tags" / "index.html").read_text()
    assert "#C++" in index and "#C#" in index


def test_tag_page_lists_posts_and_experiments_newest_first(make_content, run_build):
    content = make_content({"posts/a.md": post("古い記事", "2017-12-01", tags="[GAN]"),
                            "posts/b.md": post("新しい記事", "2017-12-20", tags="[GAN]"),
                            "experiments/e.md": "---\ntitle: 実験\ndate: 2017-12-10\ntags: [GAN]\n"
                                                "experiment: {steps: 5}\n---\n物語。\n"})
    code, _, err, out = run_build(content)
    assert code == 0, err
    page = (out / "tags" / "gan" / "index.html").read_text()
    order = [page.index(t) for t in (">2017/12/20<", ">2017/12/10<", ">2017/12/01<")]
    assert order == sorted(order), page


def test_setup_hook_adds_scheme_pages_assets_and_sees_backlinks(make_content, sample_files, tmp_path):
    """The integration's entry point: setup(site, hooks) before Markdown is rendered."""
    from studylog.build import BuildOptions, build
    from studylog.collect import Page
    files = dict(sample_files)
    files["posts/uses-exp.md"] = post("実験の話", "2017-12-16", "[実験](demo:fast-ones) ![50](demo:fast-ones@50)")
    img = tmp_path / "grid.png"
    img.write_bytes(b"png")

    def setup(site, hooks):
        def exp(ref):
            name = ref.target.split("@")[0]
            if site.experiment(name) is None:
                raise RefError(f"unknown experiment {name!r}")
            if ref.is_image:
                return ref.ctx.copy_asset(img, f"experiments/{name}/grid.png")
            return ref.ctx.urls.url("experiment", name)
        hooks.register_link("demo", exp)
        site.assets["experiments/extra.png"] = img
        site.pages_out.append(Page("experiments/gallery/", "experiments.html", "ギャラリー",
                                   {"experiments": site.experiments}))

    from studylog.errors import RefError
    from fake_results import fake_all
    for jobs in (1, 2):
        out = tmp_path / f"o{jobs}"
        content = make_content(files)
        fake_all(content, tmp_path / "results")
        res = build(BuildOptions(content=content, out=out, jobs=jobs), [setup])
        back = res.site.referencing("demo", lambda t: t.split("@")[0] == "fast-ones")
        assert [d.title for d in back] == ["実験の話"]
        assert (out / "experiments/fast-ones/grid.png").read_bytes() == b"png"
        assert (out / "experiments/extra.png").is_file() and (out / "experiments/gallery/index.html").is_file()
        assert 'href="/studylog/experiments/fast-ones/"' in (out / "posts/実験の話/index.html").read_text()


def test_refuses_to_replace_a_folder_it_did_not_write(make_content, run_build, tmp_path):
    content = make_content({"posts/a.md": post("a", "2017-12-04")})
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    code, _, err, _ = run_build(content, out=precious)
    assert code == 2 and "refusing" in err and (precious / "notes.txt").read_text() == "mine"
    code, _, err, _ = run_build(content, out=content.parent)     # would contain the content
    assert code == 2


def test_series_differing_in_case_are_one_series(make_content, run_build):
    # "gan 練習" and "GAN 練習" share /series/gan-練習/: once two series on one URL, the post
    # saying 全1回中 and linking to the other series' page, which did not list it
    content = make_content({"posts/a.md": post("一回目", "2017-12-04", series="GAN 練習", part=1),
                            "posts/b.md": post("二回目", "2017-12-11", series="gan 練習", part=2)})
    code, _, err, out = run_build(content)
    assert code == 0, err
    assert [p.name for p in (out / "series").iterdir()] == ["gan-練習"]
    page = (out / "series" / "gan-練習" / "index.html").read_text()
    assert "一回目" in page and "二回目" in page
    for slug, n in (("一回目", 1), ("二回目", 2)):
        html = (out / "posts" / slug / "index.html").read_text()
        assert f"全2回中 第{n}回" in html, html
    # one spelling, as tags: the first met (posts newest first, as tags are)
    assert ">gan 練習</a>」 全2回中 第1回" in (out / "posts" / "一回目" / "index.html").read_text()


def test_merged_series_report_a_part_taken_twice(make_content, run_build):
    content = make_content({"posts/a.md": post("一回目", "2017-12-04", series="GAN 練習", part=1),
                            "posts/b.md": post("二回目", "2017-12-11", series="gan 練習", part=1)})
    code, _, err, _ = run_build(content)
    assert code == 1 and "part 1 also in" in err, err


def test_two_generated_pages_on_one_path_is_an_error(make_content, sample_files):
    from studylog.build import BuildOptions, build
    from studylog.collect import Page
    from studylog.errors import ContentError

    def setup(site, hooks):
        site.pages_out.append(Page("archive/", "experiments.html", "別のアーカイブ", {"experiments": []}))
    from fake_results import fake_all
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    with pytest.raises(ContentError) as e:
        build(BuildOptions(content=content, out=content.parent / "o"), [setup])
    msgs = [str(x) for x in e.value.errors]
    assert any("/archive/" in m and "アーカイブ" in m and "別のアーカイブ" in m for m in msgs), msgs


def test_parsing_in_workers_reports_the_same_errors(make_content, run_build, sample_files, tmp_path):
    # with --jobs 2 the content files are parsed in forked workers; errors come back with them
    files = dict(sample_files)
    files["posts/bad.md"] = "---\ntitle: x\ndate: 2017-13-45\n---\n本文\n"
    files["posts/bad2.md"] = "---\ntitle: y\ndate: 2017-12-01\ntagz: [a]\n---\n本文\n"
    content = make_content(files)
    one = run_build(content, "--jobs", "1", out=tmp_path / "a")
    two = run_build(content, "--jobs", "2", out=tmp_path / "b")
    assert one[0] == two[0] == 1
    errors = lambda err: sorted(l for l in err.splitlines() if ".md:" in l)
    assert errors(one[2]) == errors(two[2]) and len(errors(one[2])) == 2, (one[2], two[2])
