"""Hostile and odd input: references that try to leave the content folder, symlinks out of it,
markup in titles (shown as text, escaped exactly once everywhere), characters a page cannot
carry, and property-based builds (any front matter and Markdown: a page or path:line errors,
never a traceback; the output stays well-formed)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st

from conftest import SITE_TOML, post, write_files
from safe_checks import feed_problems, html_problems, sitemap_problems

HOSTILE = """<script>alert("x")</script> & "q" 'q' &amp; </title><b>"""
ATOM = "{http://www.w3.org/2005/Atom}"


def hostile_files() -> dict[str, str]:
    t = json.dumps(HOSTILE)   # a JSON string is a valid YAML double-quoted scalar
    return {
        "posts/hostile.md": f"---\ntitle: {t}\ndate: 2017-12-21\ntags: [{json.dumps('<b>&amp;')}, {t}]\n"
                            f"series: {json.dumps('<i>S&</i>')}\npart: 1\nsummary: {t}\n---\n本文。\n",
        "posts/hostile-2.md": f"---\ntitle: ふつう\ndate: 2017-12-22\n---\n最初の段落 {HOSTILE.replace('<', '&lt;')} です。\n",
        "pages/hostile-page.md": f"---\ntitle: {t}\n---\n[戻る](post:hostile)\n",
        "experiments/hostile-exp.md": f"---\ntitle: {t}\ndate: 2017-12-20\ntags: [{t}]\nexperiment: {{steps: 5}}\n---\n物語。\n",
    }


# --- references that try to leave the content folder ------------------------------------------

ESCAPES = {
    "image ../..": ("![x](../../outside.png)", r"image '\.\./\.\./outside\.png' points outside the content folder"),
    "image via a subfolder": ("![x](../images/../../outside.png)", r"points outside the content folder"),
    "image percent-encoded": ("![x](..%2F..%2Foutside.png)", r"points outside the content folder"),
    "link ../..": ("[x](../../outside.png)", r"link '\.\./\.\./outside\.png' points outside the content folder"),
    "absolute path image": ("![x](/etc/passwd)", r"broken link '/etc/passwd'.*outside the site's base path"),
    "file: URL": ("[x](file:///etc/passwd)", r"broken link 'file:///etc/passwd'.*unresolved file: link"),
    "raw HTML img": ('<img src="../../../../outside.png" alt="">', r"broken link '\.\./\.\./\.\./\.\./outside\.png'"),
    "exp:../x": ("[x](exp:../x)", r"unknown experiment '\.\.' in exp:\.\./x"),
    "exp:../../results/x@1": ("![x](exp:../../results/x@1)", r"malformed reference exp:\.\./\.\./results/x@1"),
    "exp: encoded": ("![x](exp:..%2Fx)", r"unknown experiment '\.\.%2Fx'"),
    "post:../x": ("[x](post:../x)", r"unknown post '\.\./x'"),
    "post:/etc/passwd": ("[x](post:/etc/passwd)", r"unknown post '/etc/passwd'"),
    "experiment-card": ("```experiment-card\nname: ../x\n```", r"unknown experiment '\.\./x' in experiment-card"),
    "experiment-compare": ("```experiment-compare\nexperiments: [fast-ones, ../../x]\n```", r"unknown experiment '\.\./\.\./x'"),
}


@pytest.mark.parametrize("body, message", list(ESCAPES.values()), ids=list(ESCAPES))
def test_references_leaving_the_content_folder_are_errors(make_content, run_build, sample_files, tmp_path, body, message):
    (tmp_path / "outside.png").write_bytes((Path(__file__).parent / "data" / "sitemap.xsd").read_bytes())
    content = make_content(dict(sample_files, **{"posts/evil.md": post("evil", "2017-12-01", "前置き。\n\n" + body + "\n")}))
    code, _, err, out = run_build(content)
    assert code == 1 and not out.exists(), err
    assert re.search(r"posts/evil\.md:7: .*" + message, err), err


def test_symlinks_out_of_the_content_folder_are_refused(make_content, run_build, sample_files, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "diary.md").write_text(post("他人の日記", "2017-12-01", "秘密。"), encoding="utf-8")
    (secret / "key.png").write_bytes(b"\x89PNG secret")
    content = make_content(dict(sample_files, **{"posts/uses-link.md": post("u", "2017-12-02", "![k](../images/key.png)\n")}))
    os.symlink(secret / "diary.md", content / "posts" / "linked.md")
    os.symlink(secret / "key.png", content / "images" / "key.png")
    (content / "templates" / "static").mkdir(parents=True)
    os.symlink(secret / "key.png", content / "templates" / "static" / "leak.png")
    code, _, err, out = run_build(content)
    assert code == 1 and not out.exists()
    assert re.search(r"posts/linked\.md:1: this file is a symlink to .*secret/diary\.md, outside the content folder", err)
    assert re.search(r"posts/uses-link\.md:5: image '\.\./images/key\.png' points outside the content folder", err)
    # the image error stops the build before the copy check; alone, a static symlink is refused too
    (content / "posts" / "linked.md").unlink()
    (content / "posts" / "uses-link.md").unlink()
    code, _, err, out = run_build(content)
    assert code == 1 and not out.exists()
    assert re.search(r"templates/static/leak\.png:1: refusing to publish /static/leak\.png: the file is a symlink", err)
    # a symlink that stays inside the content folder is fine
    (content / "templates" / "static" / "leak.png").unlink()
    os.symlink(content / "images" / "fig.png", content / "images" / "alias.png")
    (content / "posts" / "ok.md").write_text(post("ok", "2017-12-03", "![a](../images/alias.png)\n"), encoding="utf-8")
    code, _, err, out = run_build(content)
    assert code == 0, err


def test_slugs_and_tags_with_dots_and_slashes_stay_inside(make_content, run_build, tmp_path):
    content = make_content({"posts/a.md": post("a", "2017-12-01", slug="../../../escaped", tags='["a/../../b"]',
                                               series='"../.."', part=1)})
    code, _, err, out = run_build(content)
    assert code == 0, err
    assert not (tmp_path / "escaped").exists() and (out / "posts" / "escaped" / "index.html").is_file()
    assert {p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*")} == {True}
    # a tag of dots and slashes only would have no page at all: an error, not a folder outside
    content = make_content({"posts/a.md": post("a", "2017-12-01", tags='["../.."]')}, name="c2")
    code, _, err, _ = run_build(content, out=tmp_path / "o2")
    assert code == 1 and "tag '../..' has no letters or digits" in err


# --- markup in titles: text everywhere, escaped exactly once ----------------------------------

def _texts(node):
    """Every text and attribute value of a parsed html5lib tree."""
    yield node.text or ""
    yield node.tail or ""
    yield from (v for v in node.attrib.values())
    for child in node:
        yield from _texts(child)


def test_markup_in_titles_is_text_escaped_exactly_once(make_content, run_build, sample_files, monkeypatch):
    import feedparser
    import html5lib
    from studylog import search
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")     # the search index too, where Pagefind is installed
    site_toml = SITE_TOML.replace('title = "テスト日記"', f"title = {json.dumps('日記 <&> ' + chr(34))}")
    site_toml += f'\n[nav]\n{json.dumps(HOSTILE)} = "page:hostile-page"\n"ホーム" = "home"\n'
    code, _, err, out = run_build(make_content(dict(sample_files, **hostile_files()), site_toml=site_toml))
    assert code == 0, err
    pages = sorted(out.rglob("*.html"))
    seen_title = 0
    for f in pages:
        raw = f.read_text("utf-8")
        assert "<script>alert" not in raw and "</title><b>" not in raw, f
        tree = html5lib.parse(raw, namespaceHTMLElements=False)
        assert not [s for s in tree.iter("script") if "alert" in (s.text or "")], f
        for text in _texts(tree):   # once-escaped markup parses back to the raw text; twice shows entities
            assert "&lt;" not in text and "&quot;" not in text and "&amp;amp;" not in text and "&#" not in text, (f, text)
        assert tree.find(".//title").text.endswith('日記 <&> "'), f
        if HOSTILE in tree.find(".//title").text:
            seen_title += 1
            assert tree.find(".//title").text.endswith(f'{HOSTILE} | 日記 <&> "')
        if f.parent.name.startswith("hostile-exp") or "hostile" in f.parent.name:
            assert HOSTILE in "".join(_texts(tree)), f
    assert seen_title >= 3     # the post, the page and the experiment
    nav = html5lib.parse((out / "index.html").read_text("utf-8"), namespaceHTMLElements=False)
    assert HOSTILE in [a.text for a in nav.iter("a")]          # a nav label from site.toml
    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.find(f"{ATOM}title").text == '日記 <&> "'
    entry = next(e for e in feed.findall(f"{ATOM}entry") if e.find(f"{ATOM}title").text == HOSTILE)
    assert entry.find(f"{ATOM}summary").text == HOSTILE
    assert {c.get("term") for c in entry.findall(f"{ATOM}category")} == {"<b>&amp;", HOSTILE}
    parsed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not parsed.bozo and HOSTILE in [e.title for e in parsed.entries]
    assert feed_problems(out / "feed.xml") == []
    second = next(e for e in feed.findall(f"{ATOM}entry") if e.find(f"{ATOM}title").text == "ふつう")
    # from the first paragraph, as text (in Markdown, &amp; is the character &)
    assert HOSTILE.replace("&amp;", "&") in second.find(f"{ATOM}summary").text
    if search.available():                                        # Pagefind's index: the titles as text
        import gzip
        titles = []
        for f in (out / "pagefind" / "fragment").iterdir():
            raw = gzip.decompress(f.read_bytes()).removeprefix(b"pagefind_dcd")
            frag = json.loads(raw)
            titles.append(frag["meta"].get("title", ""))
            assert "&lt;" not in frag["content"] and "&amp;amp;" not in frag["content"]
        assert titles.count(HOSTILE) >= 2, titles                 # the post and the page


@pytest.mark.parametrize("text, line, what", [
    ('---\ntitle: "a\\x01b"\ndate: 2017-12-01\n---\n本文\n', 2, "front matter 'title': character U+0001"),
    ('---\ntitle: a\ndate: 2017-12-01\ntags: [ok, "\\uFFFE"]\n---\n本文\n', 4, "front matter 'tags.1': character U+FFFE"),
    ('---\ntitle: a\ndate: 2017-12-01\n---\n一行目\n\nNUL \x00 here\n', 7, "character U+0000"),
    ('---\ntitle: a\ndate: 2017-12-01\n---\nform feed \x0c\n', 5, "character U+000C"),
    ('---\ntitle: a\ndate: 2017-12-01\n---\nC1 \x85 control\n', 5, "character U+0085"),
])
def test_characters_a_page_cannot_carry_are_errors(make_content, run_build, text, line, what):
    code, _, err, out = run_build(make_content({"posts/a.md": text}))
    assert code == 1 and not out.exists()
    assert f"posts/a.md:{line}: {what}" in err and "Traceback" not in err


# --- property-based: any front matter and Markdown ---------------------------------------------

MD_PIECES = ["# 見出し\n", "## 見出し\n", "## 見出し\n", "\n", "\n\n", "段落。", "*強調*", "**太字**", "`code`",
             "```\n", "```python\n", "~~~\n", "$x_1$", "$$\n\\frac{a}{b}\n$$\n", "\\(", "\\]", "$5 と $10",
             "[リンク](https://example.com/)", "[記事](post:a)", "[^1]", "[^1]: 脚注\n", "| a | b |\n|---|---|\n| 1 | 2 |\n",
             "- ", "1. ", "> ", "    ", "\t", "<", ">", "&", "&amp;", "a<b", "<3", "\"", "'", "{: #x }", "&#0;",
             "&#x80;", "&#xFFFE;", "\\", "_", "*", "漢字かな", "😀", "\u200b", "\u2028", "\ufeff", "\r\n", "\r"]
BAD_PIECES = ["[記事](post:nope)", "![画像](nope.png)", "[見出し](#どこにもない)", "```experiment-card\nname: nope\n```\n",
              "[x](exp:nope@1)", "\x00", "\x1b", "\ufffe", "[x](../../../etc/passwd)", "![x](/etc/passwd)"]
PRINTABLE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=12)
FM_VALUES = st.one_of(PRINTABLE, st.integers(-3, 3000), st.booleans(), st.none(),
                      st.sampled_from(["2017-12-04", "2017-13-45", "2017-12-04 25:00", "2017-12-04T10:00:00+09:00",
                                       "<script>", "a & b", "../../x", "", " ", "漢字", "[", "{"]),
                      st.lists(PRINTABLE, max_size=3))
FIELDS = ["title", "date", "tags", "slug", "series", "part", "summary", "draft", "updated", "extra"]
DATES = st.sampled_from(["2017-12-04", "2017-12-04 10:00", "2017-12-04T10:00:00+09:00", "2018-01-01T00:00:00Z"])
OPTIONAL = {"tags": st.lists(PRINTABLE, max_size=3), "slug": PRINTABLE.filter(str.strip), "series": PRINTABLE,
            "part": st.integers(1, 3), "summary": PRINTABLE, "draft": st.booleans(), "updated": DATES}


@st.composite
def documents(draw):
    kind = draw(st.sampled_from(["shaped"] * 6 + ["odd", "raw"]))
    if kind == "shaped":      # well-formed front matter with unusual text
        meta = {"title": draw(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=20)
                              | st.sampled_from([HOSTILE, "<&>", "\"'", "漢字"])), "date": draw(DATES)}
        for k in draw(st.lists(st.sampled_from(sorted(OPTIONAL)), max_size=4, unique=True)):
            meta[k] = draw(OPTIONAL[k])
        fm = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n"
    elif kind == "odd":       # YAML with wrong types and values
        meta = {"title": draw(FM_VALUES), "date": draw(FM_VALUES)}
        for k in draw(st.lists(st.sampled_from(FIELDS[2:]), max_size=4, unique=True)):
            meta[k] = draw(FM_VALUES)
        fm = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n"
    else:                     # raw text around the fences
        fm = draw(st.lists(st.sampled_from(["---\n", "title: ", "date: ", "2017-12-04", "\n", ": ", "- ", "'", '"',
                                            "{", "tags: [a,", "&a ", "*a", "!!binary", "\\x01"]), max_size=12).map("".join))
    body = draw(st.lists(st.sampled_from(MD_PIECES) | PRINTABLE, max_size=20).map("".join))
    if draw(st.integers(0, 9)) == 0:
        body += draw(st.sampled_from(BAD_PIECES))
    return fm + body


@settings(max_examples=int(os.environ.get("SAFE_EXAMPLES", "50")), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(documents(), min_size=1, max_size=3))
def test_any_input_gives_pages_or_path_line_errors(texts):
    from studylog.cli import main
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        files = {f"posts/{'abc'[i]}.md": t for i, t in enumerate(texts)}
        files["posts/anchor.md"] = post("固定の記事", "2017-12-01", "## 見出し\n本文。\n", slug="a")
        content = write_files(d / "content", dict(files, **{"site.toml": SITE_TOML}))
        for i, t in enumerate(texts):   # bytes exactly as drawn (write_text would translate nothing, but be sure)
            (content / "posts" / f"{'abc'[i]}.md").write_bytes(t.encode("utf-8", "surrogatepass"))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["--content", str(content), "--out", str(d / "_site"), "-q"])
        err = err.getvalue()
        assert code in (0, 1) and "Traceback" not in err
        event(f"exit {code}")
        if code == 1:
            lines = err.strip().split("\n")
            assert lines[-1].startswith("build failed:")
            for line in lines[:-1]:
                assert re.match(r"^\S.*?:\d+: \S", line), line
            assert not (d / "_site").exists()
            return
        out = d / "_site"
        assert html_problems(out) == []
        assert feed_problems(out / "feed.xml") == []
        assert sitemap_problems(out / "sitemap.xml", "https://example.github.io/studylog/") == []


EXP_VALUES = st.one_of(st.integers(-5, 10 ** 7), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                       PRINTABLE, st.lists(st.integers(-2, 12), max_size=4),
                       st.sampled_from(["fast", "all", "adam", "rmsprop", "normal", "mnist-10k", "../../etc/passwd"]),
                       st.dictionaries(st.sampled_from(["name", "lr", "idx", "images", "labels", "beta_1"]),
                                       st.one_of(PRINTABLE, st.floats(-1, 1), st.integers(-1, 3)), max_size=3))
EXP_KEYS = ["model", "dataset", "digits", "steps", "batch_size", "sample_every", "noise", "optimizer", "dropout",
            "discriminator_convs", "pretrain_d_steps", "freeze_discriminator", "seed", "checkpoint_every", "bogus"]


@settings(max_examples=int(os.environ.get("SAFE_EXAMPLES", "50")) // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(EXP_KEYS), EXP_VALUES, max_size=6))
def test_any_experiment_mapping_gives_path_line_errors(mapping):
    """--frozen (never trains): an odd `experiment:` mapping is errors at lines, never a traceback."""
    from studylog.cli import main
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        fm = yaml.safe_dump({"title": "実験", "date": "2017-12-01", "experiment": mapping}, allow_unicode=True)
        content = write_files(d / "content", {"site.toml": SITE_TOML, "experiments/e.md": f"---\n{fm}---\n物語。\n"})
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["--content", str(content), "--out", str(d / "_site"), "-q", "--frozen",
                         "--results", str(d / "results")])
        lines = err.getvalue().strip().split("\n")
        assert code == 1 and lines[-1].startswith("build failed:") and not (d / "_site").exists()
        for line in lines[:-1]:
            assert re.match(r"^\S.*experiments/e\.md:\d+: \S", line), line
