"""The Markdown pipeline: math, code at depth, Japanese anchors, and the reference hooks."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markupsafe import Markup

from conftest import post
from studylog.collect import collect
from studylog.config import SiteConfig
from studylog.content import parse_document
from studylog.errors import RefError
from studylog.hooks import Hooks, RenderContext
from studylog.markdown import MarkdownRenderer
from studylog import refs


def render_one(tmp_path, body, hooks=None, extra=None):
    root = tmp_path / "content"
    files = {"posts/a.md": post("テスト", "2017-12-04", body), **(extra or {})}
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text) if isinstance(text, str) else p.write_bytes(text)
    config = SiteConfig(content_dir=root, base_url="/studylog/")
    errors = []
    docs = [parse_document(p, root, ZoneInfo("Asia/Tokyo"), errors) for p in sorted(root.rglob("*.md"))]
    assert errors == []
    site = collect(config, docs, drafts=False, errors=errors)
    hooks = hooks or Hooks()
    refs.register(hooks)
    r = MarkdownRenderer(hooks, RenderContext(site, site.urls))
    doc = next(d for d in docs if d.stem == "a")
    return r.render(doc)


def math_count(html):
    return html.count("<math ")


@pytest.mark.parametrize("src, n", [
    (r"$a_1 * b_2 * c_3$ と $x_i$", 2),
    (r"\(a_b\) と \(c_d\)", 2),
    (r"$$E = mc^2$$", 1),
    ("$$\n\\sum_{i=1}^n x_i * y_i\n$$", 1),
    ("\\[\n\\frac{a_1}{b_1}\n\\]", 1),
    ("\\begin{align}\na &= b\n\\end{align}", 1),
])
def test_math_becomes_mathml(tmp_path, src, n):
    html = render_one(tmp_path, src).html
    assert math_count(html) == n, html
    assert "<em>" not in html and "<strong>" not in html


def test_emphasis_never_inside_math(tmp_path):
    html = render_one(tmp_path, r"*強調* と $a_1 * b_1 * c$ と _下線_ と $x_{*}$").html
    assert html.count("<em>") == 2
    for m in re.findall(r"<math .*?</math>", html, re.S):
        assert "<em>" not in m
    assert 'alttext="a_1 * b_1 * c"' in html


def test_prices_stay_text(tmp_path):
    html = render_one(tmp_path, "りんごは $5 and $7 です。コーヒーは $3、ケーキは $4。$5/$10 も $20-$30 も。").html
    assert "<math" not in html and "$5 and $7" in html and "$3、ケーキは $4" in html
    assert "$5/$10" in html and "$20-$30" in html


def test_escaped_dollar(tmp_path):
    html = render_one(tmp_path, r"価格 \$5 と \$6").html
    assert "<math" not in html and "$5" in html


def test_math_in_list_and_code_untouched(tmp_path):
    html = render_one(tmp_path, "- 項目 $a_b$\n\n`$x_y$` はコード\n").html
    assert math_count(html) == 1 and "<code>$x_y$</code>" in html


def test_fenced_code_inside_list_items_highlighted(tmp_path):
    body = "1. 一つ目\n\n    ```python\n    def f(x):\n        return x * 2  # _a_ *b*\n    ```\n\n2. 二つ目\n    - 入れ子\n\n        ```bash\n        echo $HOME\n        ```\n"
    html = render_one(tmp_path, body).html
    assert html.count('class="highlight"') == 2
    assert '<span class="k">def</span>' in html and "<em>" not in html
    assert html.index("一つ目") < html.index("def") < html.index("二つ目") < html.index("echo")


def test_tables_footnotes_heading_anchors(tmp_path):
    body = "## 読んだ記事\n\n### ガンダムとパーセプトロン・ゼロ\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n本文[^1]\n\n[^1]: 脚注\n"
    r = render_one(tmp_path, body)
    assert '<h2 id="読んだ記事">' in r.html
    assert 'id="ガンダムとパーセプトロン-ゼロ"' in r.html
    assert "<table>" in r.html and 'class="footnote"' in r.html
    assert "読んだ記事" in r.toc


def test_summary_first_paragraph_without_links(tmp_path):
    r = render_one(tmp_path, "最初の段落 $x^2$ と[リンク](https://example.com)[^1]。\n\n二段落目。\n\n[^1]: 注\n")
    assert "<a" not in r.summary_html and "fnref" not in r.summary_html and "<math" in r.summary_html
    assert r.summary_text == "最初の段落 x^2 とリンク。"


def test_post_reference_resolves_by_slug_or_stem(tmp_path):
    extra = {"posts/b-file.md": post("別の記事", "2017-12-05", "x", slug="other")}
    r = render_one(tmp_path, "[slug](post:other) [stem](post:b-file) [anchor](post:other#sec)", extra=extra)
    assert r.errors == []
    assert r.html.count('href="/studylog/posts/other/"') == 2 and 'href="/studylog/posts/other/#sec"' in r.html


def test_post_reference_to_nothing_is_an_error_with_line(tmp_path):
    extra = {"posts/b.md": post("別の記事", "2017-12-05", "x", slug="other")}
    r = render_one(tmp_path, "一行目\n\n三行目 [x](post:missing) と [y](post:missing)\n", extra=extra)
    assert [(e.line, e.message.split(";")[0]) for e in r.errors] == [
        (7, "unknown post 'missing' in [..](post:missing)")] * 2
    assert "known posts:" in r.errors[0].message and "other" in r.errors[0].message


def test_custom_link_scheme_and_line_numbers(tmp_path):
    seen = []
    hooks = Hooks()

    def exp(ref):
        seen.append((ref.target, ref.is_image, ref.text, ref.line, ref.document.stem))
        if ref.target == "bad":
            raise RefError("unknown experiment 'bad'; known: a, b")
        if ref.is_image:
            return Markup('<figure class="grid"><img src="/x.png" alt="g"></figure>')
        if ref.target == "el":
            el = ET.Element("span", {"class": "exp"})
            el.text = "置換"
            return el
        return "/studylog/experiments/" + ref.target + "/"

    hooks.register_link("exp", exp)
    body = "[実験 A](exp:a)\n\n![50 ステップ](exp:a@50)\n\n[x](exp:bad) と [y](exp:el)\n"
    r = render_one(tmp_path, body, hooks)
    assert seen == [("a", False, "実験 A", 5, "a"), ("a@50", True, "50 ステップ", 7, "a"),
                    ("bad", False, "x", 9, "a"), ("el", False, "y", 9, "a")]
    assert [(e.line, e.message) for e in r.errors] == [(9, "unknown experiment 'bad'; known: a, b")]
    assert 'href="/studylog/experiments/a/"' in r.html
    assert '<figure class="grid"><img src="/x.png" alt="g"></figure>' in r.html
    assert '<span class="exp">置換</span>' in r.html


def test_fence_handler_gets_yaml_and_lines(tmp_path):
    got = []
    hooks = Hooks()

    def card(ref):
        got.append((ref.lang, ref.data, ref.line, ref.lines.get(("steps",))))
        if ref.data.get("name") == "nope":
            raise RefError("unknown experiment 'nope'")
        return f'<div class="card">{ref.data["name"]}</div>'

    hooks.register_fence("experiment-card", card)
    body = "前文\n\n```experiment-card\nname: a\nsteps: [25, 50]\n```\n\n- リスト内\n\n    ```experiment-card\n    name: nope\n    ```\n\n```python\nx = 1\n```\n"
    r = render_one(tmp_path, body, hooks)
    assert got[0] == ("experiment-card", {"name": "a", "steps": [25, 50]}, 7, 9)
    assert got[1][2] == 14
    assert [(e.line, e.message) for e in r.errors] == [(14, "unknown experiment 'nope'")]
    assert '<div class="card">a</div>' in r.html and 'class="highlight"' in r.html


def test_fence_with_bad_yaml(tmp_path):
    hooks = Hooks()
    hooks.register_fence("experiment-card", lambda ref: "never")
    r = render_one(tmp_path, "```experiment-card\nname: [a\n```\n", hooks)
    assert len(r.errors) == 1 and "not valid YAML" in r.errors[0].message and r.errors[0].line >= 5


def test_relative_image_copied_with_size(tmp_path):
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.new("RGB", (12, 7)).save(buf, "PNG")
    r = render_one(tmp_path, "![図](../images/p.png)", extra={"images/p.png": buf.getvalue()})
    assert r.errors == []
    assert 'src="/studylog/assets/images/p.png"' in r.html and 'width="12"' in r.html and 'height="7"' in r.html
    assert list(r.assets) == ["assets/images/p.png"]


@pytest.mark.parametrize("src, msg", [("../images/none.png", "not found"),
                                      ("../../outside.png", "outside the content folder")])
def test_image_missing_or_outside(tmp_path, src, msg):
    (tmp_path / "outside.png").write_bytes(b"x")
    r = render_one(tmp_path, f"一行目\n\n![図]({src})\n")
    assert len(r.errors) == 1 and r.errors[0].line == 7 and msg in r.errors[0].message


def test_external_images_and_links_untouched(tmp_path):
    r = render_one(tmp_path, "![a](https://example.com/a.png) [m](mailto:a@b.c) [h](#x)")
    assert r.errors == [] and 'src="https://example.com/a.png"' in r.html and 'href="mailto:a@b.c"' in r.html


def test_unsupported_tex_shows_source_not_traceback(tmp_path):
    r = render_one(tmp_path, r"壊れた式 $\frac{a$ の後も続く")
    assert r.errors == []
    assert "続く" in r.html


def test_math_inside_heading_keeps_japanese_anchor(tmp_path):
    r = render_one(tmp_path, "## 損失 $L_D$ の定義\n")
    assert '<h2 id="損失' in r.html and "<math" in r.html


def test_operator_names_latex2mathml_lacks_render_upright(tmp_path):
    html = render_one(tmp_path, r"$\arg\max_\xi f$ と $\sgn x$").html
    assert '<mi mathvariant="normal">arg</mi>' in html and '<mi mathvariant="normal">sgn</mi>' in html
    assert "<mi>\\" not in html


def test_relative_md_links_and_files(tmp_path):
    extra = {"posts/b.md": post("別の記事", "2017-12-05", "x", slug="other"), "files/paper.pdf": b"%PDF"}
    r = render_one(tmp_path, "[b](b.md) [b2](./b.md#sec) [pdf](../files/paper.pdf) [none](nothing.md)\n", extra=extra)
    assert 'href="/studylog/posts/other/"' in r.html and 'href="/studylog/posts/other/#sec"' in r.html
    assert 'href="/studylog/assets/files/paper.pdf"' in r.html
    assert [(e.line, e.message.split(" (")[0]) for e in r.errors] == [(5, "link 'nothing.md' not found")]


def test_summary_skips_image_only_paragraph(tmp_path):
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, "PNG")
    r = render_one(tmp_path, "![図](../images/p.png)\n\n本当の最初の段落。\n", extra={"images/p.png": buf.getvalue()})
    assert r.summary_text == "本当の最初の段落。" and "<img" not in r.summary_html


LONG_TEX = r"L = \sum_{i=1}^{n} a_i x_i + b_i y_i + c_i z_i + d_i w_i + e_i v_i + f_i u_i + g_i t_i + h_i s_i + k_i r_i + m_i q_i"


def test_long_math_scrolls_within_the_column_on_a_phone(make_content, run_build, tmp_path):
    """Display math written inside a paragraph and a long $…$ are not wrapped in .math-display:
    they scroll in the column instead of widening the page (390 px viewport)."""
    import functools, http.server, shutil, threading
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium")
    body = f"長い式: $${LONG_TEX}$$ のように書く。\n\n行内の長い式 ${LONG_TEX}$ も同じ。\n\n$$\n{LONG_TEX}\n$$\n"
    content = make_content({"posts/m.md": post("数式", "2017-12-04", body, slug="m")})
    root = tmp_path / "www"
    code, _, err, _ = run_build(content, out=root / "studylog")
    assert code == 0, err
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 390, "height": 800})
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/studylog/posts/m/")
            assert page.locator("math").count() == 3
            widths = page.evaluate("[document.documentElement.scrollWidth, document.querySelector('main').clientWidth,"
                                   " ...[...document.querySelectorAll('math')].map(m => m.getBoundingClientRect().right)]")
            browser.close()
    finally:
        server.shutdown()
    assert widths[0] <= 390, widths                       # the page does not scroll sideways
    assert all(r <= 390 for r in widths[2:]), widths      # every formula ends inside the viewport


def test_summary_keeps_only_the_paragraphs_inline_part(tmp_path):
    """Found by the hostile-input fuzz test: a fence right under a paragraph's line was put
    inside the <p> by Markdown, and the summary carried that <div> into list pages' <p>."""
    r = render_one(tmp_path, "段落。# 見出し\n```\n```\n")
    assert r.summary_html == "段落。# 見出し" and r.summary_text == "段落。# 見出し"


def test_a_fence_right_under_a_paragraph_line_is_not_inside_the_paragraph(tmp_path):
    """Found by the hostile-input fuzz test: Markdown put the fence's <div> inside the <p>
    (invalid HTML; the validator saw an unexpected </p>)."""
    r = render_one(tmp_path, "段落。# 見出し\n```python\nx = 1\n```\n後ろの文。\n")
    assert re.fullmatch(r'<p>段落。# 見出し</p>\n<div class="highlight">.*</div>\n<p>後ろの文。</p>', r.html, re.S), r.html


def test_a_code_language_is_looked_up_in_pygments_once(tmp_path, monkeypatch):
    """A language Pygments lacks (mermaid, a typo) cost a scan of the installed plugins on
    every block (~4 ms each); the lookup, found or not, is remembered."""
    import pygments.lexers
    from pymdownx import highlight
    calls = []
    real = pygments.lexers.find_lexer_class_by_name

    def counting(name):
        calls.append(name)
        return real(name)
    monkeypatch.setattr(pygments.lexers, "find_lexer_class_by_name", counting)
    highlight.get_lexer_by_name.cache_clear()
    body = "\n\n".join(f"```{lang}\nx = {i}\n```" for i in range(3) for lang in ("mermaid", "python", "pythn"))
    html = render_one(tmp_path, body).html
    assert sorted(calls) == ["mermaid", "pythn", "python", "text"]   # each once: 9 blocks, text for the misses
    assert html.count('<span class="n">x</span>') == 3 and html.count("x = 0") == 2


FENCES = [("python", 'hl_lines="2"', "def f():\n    return 1\n"), ("mermaid", "", "graph TD; A-->B\n"),
          ("mime", "", "Content-Type: application/json\n\n{\"a\": 1}\n"), ("mime", "", "Subject: hi\n\n{\"b\": 2}\n"),
          ("modula2", "", "(*!m2pim*)\nMODULE M; END M.\n"), ("modula2", "", "MODULE N; BEGIN END N.\n"),
          ("", "", "plain\n"), ("py", 'linenums="3"', "x = 1\n")]


def test_each_code_block_is_highlighted_as_if_alone(tmp_path):
    """Every block gets its own lexer (each rendered alone below starts from an empty memo): some keep state from the text they read (MIME its
    content type, Modula-2 its dialect), which must not leak into the next block, or a page
    would depend on which posts were rendered before it (and an edit rebuild on a clean one)."""
    import pygments.lexers
    from pymdownx import highlight

    def fence(lang, opts, code):
        return f"```{lang} {opts}\n{code}```".replace(" \n", "\n", 1)
    together = render_one(tmp_path, "\n\n".join(fence(*f) for f in FENCES)).html
    alone = []
    for f in FENCES:
        highlight.get_lexer_by_name.cache_clear()
        alone.append(render_one(tmp_path, fence(*f)).html)
    blocks = re.findall(r'<div class="highlight">.*?</pre></div>', together, re.S)
    assert blocks == [re.search(r'<div class="highlight">.*?</pre></div>', a, re.S).group(0) for a in alone]
