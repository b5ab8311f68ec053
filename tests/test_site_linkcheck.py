"""The build's link check: what counts as a link in a page, and where a broken one is reported."""
from __future__ import annotations

import re

from conftest import ROOT, post

TARGET = post("GAN 練習 1", "2017-11-01", "## 準備\n\n本文。\n", slug="gan-practice-1")


def test_attribute_values_mentioning_href_or_src_are_not_links(make_content, run_build):
    content = make_content({
        "posts/hello.md": post("hello", "2017-12-01", """\
            本文。

            [リンク](https://example.com "属性 href=nowhere の例")
            """, summary='"img タグの src=foo.png 属性"'),
    })
    code, _, err, _ = run_build(content)
    assert code == 0, err


def test_scan_html_reads_attributes_as_a_parser_does():
    from studylog.linkcheck import scan_html
    page = scan_html(
        '<a title="x href=no1" href="/ok1">a</a>'
        "<img alt='it\"s src=no2' src=\"ok2.png\">"
        '<a title="it\'s" data-href="no3" href="ok3">b</a>'
        '<a title="1 > 0" href="ok4">c</a>'
        '<p>text with href="no5" in it</p>'
        '<meta name="description" content="src=no6 と id=no7">'
        '<span id="real"></span><a name="named"></a><input name="notanid">'
        '<img srcset="ok5.png 1x, ok6.png 2x" alt="srcset=no8">'
        '<a title="a src=" href="ok7">d</a>')
    assert [u for u, _ in page.links] == ["/ok1", "ok2.png", "ok3", "ok4", "ok5.png", "ok6.png", "ok7"]
    assert page.ids == {"real", "named"}


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if "broken link" in line]


def test_each_broken_link_is_reported_at_its_own_markdown_line(make_content, run_build):
    content = make_content({
        "posts/gan-practice-1.md": TARGET,
        "posts/other.md": post("other", "2017-11-02", "本文。\n"),
        "posts/hello.md": post("hello", "2017-12-01", """\
            本文。

            [a](#nope) と [正しい](post:gan-practice-1#準備)

            [d](post:gan-practice-1#nowhere) と [f](post:other#準備)

            [e](#nowhere) と [a](#nope)
            """),
    })
    code, _, err, _ = run_build(content)
    assert code == 1
    errors = _errors(err)
    assert len(errors) == 5, err
    hello = r"posts/hello\.md"
    assert re.search(hello + r":7: broken link '#nope' .*no element with id 'nope' on this page", err)
    assert re.search(hello + r":9: broken link '/studylog/posts/gan-practice-1/#nowhere' .*no element with id 'nowhere'", err)
    assert re.search(hello + r":9: broken link '/studylog/posts/other/#準備' .*no element with id '準備'", err)
    assert re.search(hello + r":11: broken link '#nowhere' .*no element with id 'nowhere' on this page", err)
    assert re.search(hello + r":11: broken link '#nope' .*no element with id 'nope' on this page", err)


def test_a_link_broken_by_another_page_is_reported_at_its_line_in_an_incremental_build(make_content, run_build):
    """The page is carried over unchanged (its Markdown is cached): the line still comes from the Markdown."""
    files = {
        "posts/gan-practice-1.md": TARGET,
        "posts/hello.md": post("hello", "2017-12-01", """\
            本文。

            [準備へ](post:gan-practice-1#準備)
            """),
    }
    content = make_content(files)
    code, _, err, out = run_build(content)
    assert code == 0, err
    (content / "posts" / "gan-practice-1.md").write_text(TARGET.replace("## 準備", "## 用意"), encoding="utf-8")
    code, _, err, _ = run_build(content, out=out)
    assert code == 1
    assert re.search(r"posts/hello\.md:7: broken link '/studylog/posts/gan-practice-1/#準備' "
                     r"\(in .*posts/hello/index\.html\): no element with id '準備'", err), err


def _override(name: str, old: str, new: str) -> str:
    base = (ROOT / "templates" / name).read_text(encoding="utf-8")
    assert old in base
    return base.replace(old, new, 1)


def test_a_broken_link_from_front_matter_is_reported_at_its_key(make_content, run_build):
    template = _override("post.html", "<div class=\"content\">",
                         '{% if doc.meta.source %}<p><a href="{{ doc.meta.source }}">出典</a></p>{% endif %}\n'
                         '  <div class="content">')
    content = make_content({
        "templates/post.html": template,
        "posts/hello.md": post("hello", "2017-12-01", "本文。\n", tags="[日記]", source="../nowhere/"),
    })
    code, _, err, _ = run_build(content)
    assert code == 1
    assert re.search(r"posts/hello\.md:5: broken link '\.\./nowhere/' \(in .*posts/hello/index\.html, "
                     r"from front matter 'source'\): no such file in the site: /posts/nowhere/", err), err
    assert len(_errors(err)) == 1


def test_a_broken_link_from_a_template_names_the_page_and_the_template_line(make_content, run_build):
    template = _override("post.html", "<div class=\"content\">", '<a href="missing/">x</a>\n  <div class="content">')
    line = next(i for i, text in enumerate(template.split("\n"), 1) if 'href="missing/"' in text)
    content = make_content({
        "templates/post.html": template,
        "posts/hello.md": post("hello", "2017-12-01", "本文。\n"),
    })
    code, _, err, out = run_build(content)
    assert code == 1
    page = re.escape(str(out / "posts" / "hello" / "index.html"))
    tpl = re.escape(str(content / "templates" / "post.html"))
    assert re.search(page + r":1: broken link 'missing/': no such file in the site: /posts/hello/missing/index\.html "
                     r"\(from template " + tpl + f":{line}\\)", err), err
    assert ".new-" not in err                 # never the temporary tree the build was writing
    assert len(_errors(err)) == 1


def test_a_link_shown_in_code_is_not_where_the_broken_link_was_written(make_content, run_build):
    content = make_content({
        "posts/hello.md": post("hello", "2017-12-01", """\
            書き方は `[a](#nope)` のように書く。

            ```markdown
            [a](#nope)
            ```

            [a](#nope)
            """),
    })
    code, _, err, _ = run_build(content)
    assert code == 1
    assert re.search(r"posts/hello\.md:11: broken link '#nope'", err), err
    assert len(_errors(err)) == 1


def test_cached_feed_and_sitemap_verdicts_never_hide_a_missing_target(make_content, run_build, tmp_path):
    # an unchanged sitemap is not resolved again, unless a page it lists is gone
    from studylog.build import BuildOptions, build
    from studylog.linkcheck import check
    content = make_content({"posts/a.md": post("a", "2017-12-01"), "posts/b.md": post("b", "2017-12-02")})
    site = build(BuildOptions(content=content, out=tmp_path / "o", quiet=True, search=False)).site
    cache = tmp_path / "lc.pickle"
    assert check(tmp_path / "o", site, cache=cache) == []
    assert check(tmp_path / "o", site, cache=cache) == []         # the cached verdicts
    gone = next((tmp_path / "o" / "posts").iterdir())
    (gone / "index.html").unlink()
    errors = [str(e) for e in check(tmp_path / "o", site, cache=cache)]
    assert any("sitemap.xml" in e and "no such file in the site" in e for e in errors), errors
    assert any("feed.xml" in e and "no such file in the site" in e for e in errors), errors
