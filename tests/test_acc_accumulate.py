"""The accumulated log: diary sections gathered across weeks, the papers page, tags across them."""
from __future__ import annotations

import html.parser
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT, post

from studylog import htmltree
from studylog.accumulate import split_entry, url_key

DIARY_1 = post("2017-12-04 週の日記", "2017-12-04", """\
    今週のまとめ。

    ## 読んだ記事

    - [Inverse Reward Design](https://arxiv.org/abs/1711.02827) — 報酬は観測。[メモ](post:ird-note) に書いた。
    - [Generative Adversarial Networks](https://arxiv.org/abs/1406.2661) — GAN の原論文。

    ## 参加したイベント

    - 機械学習もくもく会（土曜の午後） — GAN を読んだ。

    ## その他

    - [Inverse Reward Design](https://arxiv.org/abs/1711.02827) — ここは集めない節。
    """, tags="[日記]")

DIARY_2 = post("2017-12-18 週の日記", "2017-12-18", """\
    ## 読んだ記事

    - [Wasserstein GAN](https://arxiv.org/abs/1701.07875): 距離を取り替える。
    - [IRD（再読）](https://arxiv.org/pdf/1711.02827v2) — 正規化定数を読み直した。

    ## 参加したイベント

    - NIPS 2017 参加報告会 — 会場の話。
    """, tags="[日記]")

NOTE = """\
---
title: "論文メモ: IRD"
date: 2017-12-08
tags: [論文, 強化学習]
slug: ird-note
paper:
  title: Inverse Reward Design
  authors: [Dylan Hadfield-Menell, Smitha Milli]
  venue: NIPS 2017
  year: 2017
  arxiv: "1711.02827"
---
メモ本文。
"""


def _site(make_content, run_build, *args, files=None):
    content = make_content(files or {"posts/2017-12-04-diary.md": DIARY_1, "posts/2017-12-18-diary.md": DIARY_2,
                                      "posts/ird.md": NOTE})
    code, _, err, out = run_build(content, "--base-url", "/studylog/", *args)
    assert code == 0, err
    return out


class _Entries(html.parser.HTMLParser):
    """entries on a list page: {id: {"title": .., "weeks": [hrefs], "links": [hrefs]}}"""

    def __init__(self):
        super().__init__()
        self.entries, self.cur, self.in_title = {}, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "li" and "acc-entry" in cls:
            self.cur = self.entries.setdefault(a["id"], {"title": "", "weeks": [], "links": []})
        elif self.cur is not None and tag == "p" and "acc-title" in cls:
            self.in_title = True
        elif self.in_title and tag == "span" and "acc-host" in cls or "badge" in cls:
            self.in_title = False
        elif self.cur is not None and tag == "a":
            (self.cur["weeks"] if "acc-week" in cls else self.cur["links"]).append(a.get("href"))

    def handle_endtag(self, tag):
        if tag == "p":
            self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.cur["title"] += data


def entries(page: Path) -> dict:
    p = _Entries()
    p.feed(page.read_text("utf-8"))
    return p.entries


def test_two_diaries_gathered_with_backlinks_and_shared_url_merged(make_content, run_build):
    out = _site(make_content, run_build)
    page = out / "reading" / "index.html"
    got = entries(page)
    titles = [e["title"].split()[0] for e in got.values()]
    assert len(got) == 3
    # newest week first; the IRD entry is in both weeks, so it sorts with the newer one
    assert titles == ["Wasserstein", "IRD（再読）", "Generative"]
    ird = next(e for e in got.values() if e["title"].startswith("IRD"))
    back = [quote(f"/studylog/posts/{d}-週の日記/#読んだ記事", safe="/#") for d in ("2017-12-18", "2017-12-04")]
    assert ird["weeks"] == back
    text = page.read_text("utf-8")
    # both weeks' notes are kept, the "その他" section is not gathered
    assert "正規化定数を読み直した" in text and "報酬は観測" in text
    assert "ここは集めない節" not in text
    # the note's post: link inside the notes was resolved by the Markdown stage
    assert "post:" not in text
    # counts: 3 entries over 2 weeks, one month
    assert re.search(r"<h1>読んだ記事 <small>3 件 · 2 週分</small></h1>", text)
    assert re.search(r"2017年12月 <small>3 件</small>", text)
    # the back-links point at real anchors in the diaries
    diary = (out / "posts" / "2017-12-04-週の日記" / "index.html").read_text("utf-8")
    assert 'id="読んだ記事"' in diary
    # the events list: entries without links stay separate, with their titles cut at the dash
    ev = entries(out / "events" / "index.html")
    assert sorted(e["title"].strip() for e in ev.values()) == ["NIPS 2017 参加報告会", "機械学習もくもく会（土曜の午後）"]


def test_papers_page_and_cross_links(make_content, run_build):
    out = _site(make_content, run_build)
    papers = (out / "papers" / "index.html").read_text("utf-8")
    assert "Inverse Reward Design" in papers and "Dylan Hadfield-Menell, Smitha Milli" in papers
    assert 'href="https://arxiv.org/abs/1711.02827"' in papers and "arXiv:1711.02827" in papers
    # the paper lists the weeks whose reading list links it (abs and pdf/v2 are one paper)
    assert papers.count('class="acc-read"') == 1
    assert "2017-12-04 の週" in papers and "2017-12-18 の週" in papers
    # the reading entry links the note and carries its tags, and the tag page lists the entry
    reading = (out / "reading" / "index.html").read_text("utf-8")
    assert "論文メモ: Inverse Reward Design" in reading
    assert 'href="/studylog/tags/%E5%BC%B7%E5%8C%96%E5%AD%A6%E7%BF%92/"' in reading
    tag = (out / "tags" / "強化学習" / "index.html").read_text("utf-8")
    assert "日記で挙げたもの" in tag and "/studylog/reading/#e-" in tag
    # nav links on every page
    home = (out / "index.html").read_text("utf-8")
    for href in ("/studylog/reading/", "/studylog/events/", "/studylog/papers/", "/studylog/search/"):
        assert f'href="{href}"' in home


def test_bad_paper_front_matter_is_a_located_error(make_content, run_build):
    bad = NOTE.replace('arxiv: "1711.02827"', "arxiv: 1711.02827").replace("year: 2017", "year: soon")
    content = make_content({"posts/ird.md": bad})
    code, _, err, _ = run_build(content)
    assert code == 1
    assert re.search(r"ird\.md:10: paper\.year must be a year", err)
    assert re.search(r"ird\.md:11: paper\.arxiv must be quoted", err)


def test_lists_configurable_in_site_toml(make_content, run_build):
    from conftest import SITE_TOML
    files = {"posts/a.md": post("週", "2017-12-04", "## 聞いたポッドキャスト\n\n- [Ep. 1](https://example.com/1) — よかった\n")}
    content = make_content(files, SITE_TOML + '\n[lists]\n"聞いたポッドキャスト" = "podcasts"\n')
    code, _, err, out = run_build(content)
    assert code == 0, err
    assert "Ep. 1" in (out / "podcasts" / "index.html").read_text("utf-8")
    assert not (out / "reading").exists()


@pytest.mark.parametrize("name", ["search", "tags", "pagefind", "static"])
def test_list_names_may_not_take_a_generated_page(make_content, run_build, name):
    # "search" silently replaced /search/ with the reading list; "tags" dropped the list
    from conftest import SITE_TOML
    files = {"posts/a.md": post("週", "2017-12-04", "## 読んだ記事\n\n- [A](https://example.com/a)\n")}
    content = make_content(files, SITE_TOML + f'\n[lists]\n"読んだ記事" = "{name}"\n')
    code, _, err, out = run_build(content)
    assert code == 1 and not out.exists()
    assert f"site.toml:8: list 読んだ記事 = {name!r}: /{name}/ is" in err, err


def _split(md_html: str):
    root = htmltree.parse(md_html)
    li = next(n for n in htmltree.iter_nodes(root) if n.tag == "li")
    return split_entry(md_html, li)


@pytest.mark.parametrize("src, title, url, notes", [
    ('<li><a href="https://x.org/a">A <code>b</code></a> — note <em>x</em></li>', "A b", "https://x.org/a", "note <em>x</em>"),
    ('<li><a href="https://x.org/a">A</a>: colon note</li>', "A", "https://x.org/a", "colon note"),
    ('<li><a href="https://x.org/a">A</a></li>', "A", "https://x.org/a", ""),
    ("<li>勉強会（夜） — 話した</li>", "勉強会（夜）", None, "話した"),
    ("<li>勉強会：話した</li>", "勉強会", None, "話した"),
    ("<li><strong>本</strong> - 読んだ</li>", "本", None, "読んだ"),
    ("<li>区切りのない一行</li>", "区切りのない一行", None, ""),
    ('<li>本 <a href="https://x.org/b">B</a> — 感想</li>', "本 B", "https://x.org/b", "感想"),
    ('<li>\n<p><a href="https://x.org/a">A</a> — first</p>\n<ul>\n<li>nested</li>\n</ul>\n</li>', "A", "https://x.org/a",
     "<p>first</p>\n<ul>\n<li>nested</li>\n</ul>"),
    ('<li><a href="https://x.org/a">A</a> — a <a href="https://y.org">y</a> — b</li>', "A", "https://x.org/a",
     'a <a href="https://y.org">y</a> — b'),
])
def test_entry_shapes(src, title, url, notes):
    title_html, title_text, got_url, got_notes = _split(src)
    assert (title_text, got_url, got_notes) == (title, url, notes)


def test_footnotes_and_anchors_in_notes_point_back_into_the_diary(make_content, run_build):
    from test_site_build import crawl
    diary = post("2017-12-04 週の日記", "2017-12-04", """\
        ## 読んだ記事

        - [A](https://a.example/) — 脚注つき[^1]。[下の節](#その他)も。

        ## その他

        [^1]: 注。
        """)
    out = _site(make_content, run_build, files={"posts/d.md": diary})
    page = (out / "reading" / "index.html").read_text("utf-8")
    assert 'id="fnref' not in page and "/studylog/posts/2017-12-04-" in page
    assert crawl(out, "/studylog/") == []


def test_title_with_an_inner_link_becomes_one_link():
    title_html, _, url, _ = _split('<li>本 <a href="https://x.org/b">B</a> — 感想</li>')
    assert title_html == "本 B" and url == "https://x.org/b"


def test_url_identity():
    assert url_key("https://arxiv.org/abs/1711.02827") == url_key("http://arxiv.org/pdf/1711.02827v2") == "arxiv:1711.02827"
    assert url_key("https://www.example.com/a/") == url_key("http://example.com/a#x")
    assert url_key("https://example.com/a?x=1") != url_key("https://example.com/a?x=2")


def bundled_copy(tmp_path) -> Path:
    """The bundled content in tmp_path, with stored (fake) experiment results beside it: never trains."""
    import shutil
    from fake_results import fake_all
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    fake_all(content, tmp_path / "results")
    return content


def test_bundled_content_reading_list(tmp_path):
    from studylog.build import BuildOptions, build
    content = bundled_copy(tmp_path)
    res = build(BuildOptions(content=content, out=tmp_path / "site", quiet=True, search=False, frozen=True))
    acc = res.site.extra["accumulated"]
    reading = acc.lists["reading"]
    ird = next(e for e in reading.entries if e.key == "arxiv:1711.02827")
    assert [m.doc.stem for m in ird.mentions] == ["2017-12-18-diary", "2017-12-04-diary"]
    assert [p.title for p in ird.papers] == ["Inverse Reward Design"]
    assert [p.arxiv for p in acc.papers] == ["1711.02827"]
    dcgan = next(e for e in reading.entries if e.key == "arxiv:1511.06434")
    assert len(dcgan.mentions) == 2
    events = acc.lists["events"]
    assert any(e.title_text == "NIPS 2017 参加報告会" for e in events.entries)
    assert all(e.title_text for lst in acc.lists.values() for e in lst.entries)
    from test_site_build import crawl
    assert crawl(tmp_path / "site", "/studylog/") == []


def test_posts_point_at_the_lists_and_papers_that_gather_them(make_content, run_build):
    out = _site(make_content, run_build)
    diary = (out / "posts" / "2017-12-04-週の日記" / "index.html").read_text("utf-8")
    assert "この週の「読んだ記事」2 件と「参加したイベント」1 件" in diary
    assert 'href="/studylog/reading/"' in diary and 'href="/studylog/events/"' in diary
    note = (out / "posts" / "ird-note" / "index.html").read_text("utf-8")
    assert 'href="/studylog/papers/#p-ird-note"' in note and "2017-12-18 の週" in note
    assert 'id="p-ird-note"' in (out / "papers" / "index.html").read_text("utf-8")
    other = (out / "posts" / "2017-12-18-週の日記" / "index.html").read_text("utf-8")
    assert "「参加したイベント」1 件" in other


def test_tree_skips_inside_code_and_math_but_keeps_offsets_and_text():
    # <pre> and <math> are leaves (their many spans are never parsed), yet offsets and text
    # are those of the source; a "<pre>" inside a comment or a script is not one.
    src = ('<h2 id="r">読んだ<math><mi>x</mi><mo>&lt;</mo></math></h2>\n<!-- <pre> -->\n'
           '<ul>\n<li>A <math><msub><mi>θ</mi><mn>1</mn></msub></math> — n</li>\n'
           '<li><div class="highlight"><pre><span class="n">a</span>\n<span>&lt;b&gt;</span></pre></div></li>\n'
           '</ul>\n<script>var s = "<pre>";</script><p>after</p>')
    root = htmltree.parse(src)
    h2, ul, script, p = [n for n in root.children]
    assert [h2.tag, ul.tag, script.tag, p.tag] == ["h2", "ul", "script", "p"]
    assert htmltree.text_of(src, h2) == "読んだx<"
    li1, li2 = ul.children
    math = li1.children[0]
    assert (math.tag, math.children) == ("math", [])
    assert src[math.start:math.end] == "<math><msub><mi>θ</mi><mn>1</mn></msub></math>"
    assert htmltree.text_of(src, li1) == "A θ1 — n"
    pre = li2.children[0].children[0]
    assert pre.tag == "pre" and htmltree.text_of(src, pre) == "a <b>"
    assert htmltree.inner_html(src, p) == "after"
    assert split_entry(src, li1)[:3] == ('A <math><msub><mi>θ</mi><mn>1</mn></msub></math>', "A θ1", None)


def test_html_without_a_wanted_heading_is_not_parsed(monkeypatch):
    from studylog import accumulate
    calls = []
    monkeypatch.setattr(accumulate.htmltree, "parse", lambda s: calls.append(s) or htmltree.Node("#root", {}, None, 0, 0))
    sections = ("読んだ記事", "参加したイベント")
    assert accumulate.raw_entries("<h2>その他</h2>\n<ul>\n<li>x</li>\n</ul>", "読んだ記事", sections) == []
    assert calls == []
    # NFKC and case are forgiven, as section_items forgives them
    accumulate.raw_entries('<h3 id="a">参加した<em>イベント</em> </h3>', "読んだ記事", sections)
    assert len(calls) == 1


def test_a_diary_counts_its_own_sections_as_the_lists_do(make_content, tmp_path):
    # the post page counts from its own html (OwnSections), the list pages from every post
    from studylog.accumulate import OwnSections
    from studylog.build import BuildOptions, build
    files = {"posts/a.md": post("週 1", "2017-12-04", "## 読んだ記事\n\n- [A](https://x.org/a) — メモ\n- B：感想\n\n"
                                                     "## 参加したイベント\n\n- 勉強会\n"),
             "posts/b.md": post("週 2", "2017-12-11", "## 読んだ記事\n\n- [A](https://x.org/a)\n"),
             "posts/c.md": post("週 3", "2017-12-18", "本文だけ。")}
    site = build(BuildOptions(content=make_content(files), out=tmp_path / "o", quiet=True, search=False)).site
    acc = site.extra["accumulated"]
    for d in site.posts:
        own = OwnSections(d, tuple(site.config.lists)).lists_of(d)
        gathered = [(l.section, l.slug, sum(m.doc is d for e in l.entries for m in e.mentions))
                    for l in acc.lists.values()]
        assert [(r.section, r.slug, n) for r, n in own] == [g for g in gathered if g[2]]
    counts = {d.title: [n for _, n in OwnSections(d, tuple(site.config.lists)).lists_of(d)] for d in site.posts}
    assert counts == {"週 1": [2, 1], "週 2": [1], "週 3": []}


def test_parallel_build_reads_sections_in_the_workers(make_content, sample_files, tmp_path):
    # the section tree is built where the html was rendered; the parent only merges the entries.
    # A fresh interpreter: a test process that imported TensorFlow renders serially (no fork).
    import subprocess
    import sys
    from fake_results import fake_all
    content = make_content(sample_files)
    fake_all(content, tmp_path / "results")
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from studylog import accumulate
from studylog.build import BuildOptions, build
parent, calls, real = os.getpid(), [], accumulate.htmltree.parse
def spy(s):
    if os.getpid() == parent:
        calls.append(s[:40])
    return real(s)
accumulate.htmltree.parse = spy
r = build(BuildOptions(content=Path({str(content)!r}), out=Path({str(tmp_path / "o")!r}), quiet=True,
                       search=False, jobs=2, results=Path({str(tmp_path / "results")!r})))
print(len(calls), len(r.site.extra["accumulated"].lists["reading"].entries))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    parsed_in_parent, entries = map(int, out.stdout.split())
    assert parsed_in_parent == 0 and entries > 0


HTML_PIECES = ["<p>", "</p>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>", '<h2 id="読んだ記事">', "</h2>", "<h3>",
               "</h3>", '<a href="x">', "<a class='anchor' href=#x>", "</a>", "<br>", "<br/>", "<img src=x />",
               "<div>", "</div>", "text", "読んだ記事", "&amp;", "&lt;", "<", ">", "<!-- c -->", "<!--", "-- >", "-->",
               "<pre><code>x<b>y</b></code></pre>", "<math><mi>x</mi></math>", "<script>a<b</script>", "</ul >",
               "< p>", '<a title="a>b">', "<a b=c d>", "</>", "</ p>", "<?x?>", "<!DOCTYPE html>", "\n", " ",
               '<span x="1" x="2">', "</span>", "<x-y>", "</x-y>", "<a href='it''s'>", "<a =b>", "<A HREF=Y>",
               "<table><tr><td>1</td></tr></table>", "<li", '<a\nhref="y"\n>', "<a href=\"&quot;q&quot;\">",
               "<p/>", "</br>", "<details><summary>s</summary>", "</details>", "<a b='>'/>", "<3", "</3"]


@given(st.lists(st.sampled_from(HTML_PIECES), max_size=40))
@settings(max_examples=400, deadline=None)
def test_the_quick_tree_is_the_tree_html_parser_makes(pieces):
    """htmltree.parse jumps from tag to tag for plain HTML, else asks html.parser: the same
    tree either way, offsets included (on this Python; on one whose html.parser reads the
    probes otherwise, html.parser does it all)."""
    source = "".join(pieces)
    assert htmltree.shape(htmltree.parse(source)) == htmltree.shape(htmltree.parse_with_html_parser(source))


def test_the_quick_path_is_off_where_html_parser_reads_a_probe_otherwise(monkeypatch):
    """Found by review: newer security releases of html.parser read `</ li>` as a comment and
    <textarea> contents as text; where that is so, html.parser alone builds the tree."""
    import html.parser as hp
    real = hp.HTMLParser.parse_endtag

    def newer(self, i):              # reads "</ li>" as a bogus comment, as newer releases do
        if self.rawdata.startswith("</ ", i):
            return self.parse_bogus_comment(i)
        return real(self, i)
    monkeypatch.setattr(hp.HTMLParser, "parse_endtag", newer)
    monkeypatch.setattr(htmltree, "_QUICK", None)
    source = "<ul><li>a</ li><li>b</li></ul>"
    assert htmltree.shape(htmltree.parse(source)) == htmltree.shape(htmltree.parse_with_html_parser(source))
    assert htmltree._QUICK is False
    monkeypatch.setattr(htmltree, "_QUICK", None)
    monkeypatch.setattr(hp.HTMLParser, "parse_endtag", real)
    htmltree.parse(source)
    assert htmltree._QUICK is True
