"""Experiment pages, the gallery and exp: references, on stored results (no training here)."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import ROOT, post
from fake_results import declared_steps, fake_all, write_fake_result

EXP = """---
title: 1 だけで学習
date: 2017-12-15
tags: [GAN]
experiment:
  model: fast
  digits: [1]
  steps: 100
  sample_every: 25
---
物語。
"""
EXP_ALL = EXP.replace("1 だけで学習", "全部の数字").replace("  digits: [1]\n", "  digits: all\n")


@pytest.fixture
def exp_site(make_content, tmp_path):
    def make(extra: dict | None = None, fake: bool = True):
        files = {"experiments/ones.md": EXP, "experiments/all.md": EXP_ALL, **(extra or {})}
        content = make_content(files)
        if fake:
            fake_all(content, tmp_path / "results")
        return content
    return make


def html(out: Path, rel: str) -> str:
    return (out / rel / "index.html").read_text(encoding="utf-8")


def test_reference_forms_resolve(exp_site, run_build):
    content = exp_site({"posts/p.md": post("実験の記録", "2017-12-16", """\
        [実験ページ](exp:ones) と [step 50](exp:ones@50)。

        ![50 の格子](exp:ones@50)
        ![損失](exp:ones/loss)

        ```experiment-card
        name: ones
        ```

        ```experiment-compare
        experiments: [all, ones]
        steps: [25, 75]
        ```
        """)})
    code, _, err, out = run_build(content)
    assert code == 0, err
    page = html(out, "posts/実験の記録")
    assert 'href="/studylog/experiments/ones/"' in page
    assert 'href="/studylog/experiments/ones/#step-50"' in page
    grid = [t for t in re.findall(r"<img\b[^>]*>", page) if 'src="/studylog/experiments/ones/samples/step-000050.png"' in t]
    assert grid and 'alt="50 の格子"' in grid[0] and 'width="356"' in grid[0]
    assert 'class="exp-figure exp-chart" href="/studylog/experiments/ones/#loss"' in page   # the SVG chart
    assert 'class="exp-card"' in page and "step 100" in page        # the card shows the final grid
    table = page[page.index('class="exp-compare"'):]
    rows = re.findall(r'<th scope="row">step (\d+)</th>(.*?)</tr>', table)
    assert [r[0] for r in rows] == ["25", "75"]
    for step, cells in rows:  # columns in the order given: all, then ones
        assert re.findall(r'experiments/(\w+)/samples/step-0*(\d+)', cells) == [("all", step), ("ones", step)]
    assert "exp:" not in re.sub(r"<code.*?</code>", "", page)


@pytest.mark.parametrize("ref, message", [
    ("[x](exp:nope)", r"unknown experiment 'nope'.*known experiments: .*ones"),
    ("![x](exp:ones@60)", r"ones has no sample grid at step 60; its steps: 25, 50, 75, 100"),
    ("![x](exp:ones@abc)", r"step must be a whole number"),
    ("![x](exp:ones/curves)", r"unknown part 'curves'.*parts: loss, animation"),
    ("[x](exp:../ones)", r"unknown experiment '\.\.' in exp:\.\./ones"),
    ("```experiment-compare\nexperiments: [ones, all]\nsteps: [25, 30]\n```", r"has no sample grid at step 30"),
    ("```experiment-card\nname: zzz\n```", r"unknown experiment 'zzz'"),
])
def test_bad_references_are_errors_with_line(exp_site, run_build, ref, message):
    content = exp_site({"posts/p.md": post("p", "2017-12-16", "一行目。\n\n" + ref + "\n")})
    code, _, err, out = run_build(content)
    assert code == 1
    line = re.search(r"posts/p\.md:(\d+): (.*)", err)
    assert line, err
    # front matter (5 lines) + blank + the reference; a compare block's missing steps at its steps: key
    assert int(line.group(1)) == (9 if "steps:" in ref else 7), err
    assert re.search(message, line.group(2)), line.group(2)
    assert not out.exists()


def test_experiment_page_parts(exp_site, run_build):
    content = exp_site({"posts/p.md": post("実験の記録", "2017-12-16", "![g](exp:ones@25)\n")})
    code, _, err, out = run_build(content)
    assert code == 0, err
    page = html(out, "experiments/ones")
    steps = re.findall(r'<li id="step-(\d+)" data-step', page)
    assert steps == ["25", "50", "75", "100"]                   # the no-JS list of every grid
    assert '<input id="step-range" type="range" min="0" max="100" step="25" value="100">' in page
    assert page.count('class="chart"') == 2 and "step-marker" in page
    assert 'href="/studylog/experiments/ones/ones-losses.csv" download' in page
    assert "<summary>ステップごとの記録 (100 行)</summary>" in page
    assert "<code>optimizer.<wbr>generator.<wbr>lr</code>" in page and "Model: generator" in page
    assert 'class="badge status-fresh"' in page
    assert re.search(r'id="backlinks".*?実験の記録', page, re.S)     # backlink to the post
    assert "/static/slider.js" in page
    gallery = html(out, "experiments")
    assert gallery.count('class="card"') == 2 and "step-000100.png" in gallery


def test_loss_reference_is_the_pages_japanese_svg_chart(exp_site, run_build):
    # not gan's matplotlib PNG (English, white, tiny text on a phone): the experiment page's chart,
    # as a self-contained SVG image (alt, width and height like every image; no file to copy)
    content = exp_site({"posts/p.md": post("実験の記録", "2017-12-16", "![1 の損失の推移](exp:ones/loss)\n")})
    code, _, err, out = run_build(content)
    assert code == 0, err
    page, exp_page = html(out, "posts/実験の記録"), html(out, "experiments/ones")
    fig = re.search(r'<a class="exp-figure exp-chart" href="/studylog/experiments/ones/#loss">(<img [^>]*>)(.*?)</a>', page, re.S)
    assert fig, page
    img, cap = fig.groups()
    assert 'alt="1 の損失の推移"' in img and 'width="720"' in img and 'height="200"' in img
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', img)[1]).decode()
    root = ElementTree.fromstring(svg)                 # a standalone SVG document: its own styles
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and "prefers-color-scheme: dark" in svg
    lines = re.findall(r'<polyline class="line (\w)"[^>]* points="([^"]+)"', svg)
    assert [c for c, _ in lines] == ["d", "g"] and all(pts in exp_page for _, pts in lines)
    assert '<span class="key d">D の損失</span>' in cap and '<span class="key g">G の損失</span>' in cap
    assert "loss.png" not in page


def test_configuration_is_shown_whole(exp_site, run_build):
    code, _, err, out = run_build(exp_site())
    assert code == 0, err
    section = html(out, "experiments/ones").split('id="config"', 1)[1].split("</section>", 1)[0]
    assert "table-scroll" not in section          # no inner scroll box cutting it mid-row
    assert len(re.findall(r"<tr><th scope=\"row\">", section)) > 15


def test_every_image_has_alt_and_size_and_is_copied_once(exp_site, run_build):
    content = exp_site({"posts/a.md": post("a", "2017-12-16", "![g](exp:ones@50)\n"),
                        "posts/b.md": post("b", "2017-12-17", "![g](exp:ones@50)\n")})
    code, _, err, out = run_build(content)
    assert code == 0, err
    for f in out.rglob("*.html"):
        for img in re.findall(r"<img\b[^>]*>", f.read_text(encoding="utf-8")):
            for attr in ("alt=", "width=", "height="):
                assert attr in img, (f, img)
    copies = list(out.rglob("step-000050.png"))
    assert [p.relative_to(out).as_posix() for p in copies if "ones" in p.parts] == ["experiments/ones/samples/step-000050.png"]


def test_smoke_result_stands_in_and_is_labelled(exp_site, run_build, tmp_path):
    content = exp_site(fake=False)
    for md in ("ones", "all"):
        write_fake_result(tmp_path / "results", content / "experiments" / f"{md}.md", status="smoke", steps=[2, 4])
    (content / "posts").mkdir()
    (content / "posts" / "p.md").write_text(post("p", "2017-12-16", "![g](exp:ones@75)\n"), encoding="utf-8")
    code, _, err, out = run_build(content, "--smoke", fake_results=False)
    assert code == 0, err
    assert "step-000004.png" in html(out, "posts/p")            # 75 of 100 maps to the smoke run's last step
    assert "--smoke" in html(out, "experiments/ones") and "status-smoke" in html(out, "experiments")


def test_frozen_fails_naming_missing_or_stale_results(exp_site, run_build, tmp_path):
    content = exp_site(fake=False)
    write_fake_result(tmp_path / "results", content / "experiments" / "ones.md")
    code, _, err, out = run_build(content, "--frozen", fake_results=False)
    assert code == 1
    assert re.search(r"experiments/all\.md:\d+: --frozen: the stored result of all is missing", err)
    assert "of ones" not in err
    # a changed config makes the stored result stale
    (content / "experiments" / "ones.md").write_text(EXP.replace("steps: 100", "steps: 120"), encoding="utf-8")
    write_fake_result(tmp_path / "results", content / "experiments" / "all.md")
    code, _, err, _ = run_build(content, "--frozen", fake_results=False)
    assert code == 1 and "the stored result of ones is stale" in err


def test_bad_experiment_config_is_an_error_with_line(exp_site, run_build):
    content = exp_site({"experiments/bad.md": EXP.replace("steps: 100", "steps: -3\n  colour: red")}, fake=False)
    code, _, err, _ = run_build(content, fake_results=False)
    assert code == 1
    assert re.search(r"experiments/bad\.md:8: experiment\.steps: ", err), err
    assert re.search(r"experiments/bad\.md:9: experiment\.colour: unknown key", err), err


def test_fresh_results_build_never_imports_tensorflow(exp_site, tmp_path):
    content = exp_site({"posts/p.md": post("p", "2017-12-16", "![g](exp:ones@50)\n")})
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from studylog.cli import main; "
            f"rc = main(['--content', {str(content)!r}, '--out', {str(tmp_path / 'o')!r}, '-q']); "
            "bad = [m for m in ('tensorflow', 'keras', 'matplotlib', 'numpy') if m in sys.modules]; "
            "print(rc, bad); sys.exit(rc or bool(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "0 []", r.stdout + r.stderr


def test_bundled_content_resolves_every_experiment_reference(tmp_path, run_build):
    """Every exp: reference in the bundled content names a real experiment and snapshot step."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    code, _, err, out = run_build(content, "--base-url", "/repo/")
    assert code == 0, err
    n_refs = 0
    for f in sorted(content.rglob("*.md")):
        n_refs += len(re.findall(r"\]\(exp:|```experiment-(?:card|compare)", f.read_text(encoding="utf-8")))
    assert n_refs >= 10
    for f in out.rglob("*.html"):
        text = f.read_text(encoding="utf-8")
        assert not re.search(r'(?:href|src)="exp:', text), f
    assert (out / "experiments" / "fast-ones" / "index.html").is_file()


def _dark_blocks(css: str) -> str:
    """The bodies of every `@media (prefers-color-scheme: dark)` block, brace-balanced."""
    out = []
    for m in re.finditer(r"@media\s*\(prefers-color-scheme:\s*dark\)\s*\{", css):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(css[i], 0)
            i += 1
        out.append(css[m.end():i - 1])
    return "\n".join(out)


def _light(css: str) -> str:
    dark = _dark_blocks(css)
    for body in dark.split("\n"):
        css = css.replace(body, "")
    return css


def _colour(css: str, selector: str, prop: str) -> str | None:
    found = None
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if selector in [s.strip() for s in sel.split(",")]:
            m = re.search(rf"(?:^|;)\s*{prop}\s*:\s*(#[0-9a-fA-F]{{6}})", body)
            found = m[1] if m else found
    return found


def _contrast(a: str, b: str) -> float:
    def lum(h):
        c = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_chart_series_colours_have_3_to_1_contrast_in_both_schemes():
    """D and G lines (and their legend keys) against the page: >= 3:1 for graphics, light and dark,
    in style.css and in the embedded chart image's own copy of its rules (kept in step)."""
    from studylog.exp_view import CHART_IMAGE_CSS
    css = (ROOT / "templates/static/style.css").read_text(encoding="utf-8")
    light_bg, dark_bg = "#fdfdfc", "#15171a"
    assert _colour(_light(css), ":root", "--bg") == light_bg and _colour(_dark_blocks(css), ":root", "--bg") == dark_bg
    image_light = re.sub(r"@media\s*\(prefers-color-scheme:\s*dark\)\s*\{.*$", "", CHART_IMAGE_CSS)
    for s in ("d", "g"):
        light = _colour(_light(css), f"svg.chart .line.{s}", "stroke")
        dark = _colour(_dark_blocks(css), f"svg.chart .line.{s}", "stroke")
        assert light and _contrast(light, light_bg) >= 3, (s, light)
        assert dark and _contrast(dark, dark_bg) >= 3, (s, dark)
        assert _colour(_light(css), f".key.{s}::before", "background") == light
        assert _colour(_dark_blocks(css), f".key.{s}::before", "background") == dark
        assert _colour(image_light, f".line.{s}", "stroke") == light          # the image mirrors the page
        assert _colour(_dark_blocks(CHART_IMAGE_CSS), f".line.{s}", "stroke") == dark


def _served(root: Path):
    import functools, http.server, threading
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# rendered size (CSS px) of every tick label of the first chart: its font size times the chart's scale
TICK_PX = """() => { const svg = document.querySelector('svg.chart'); const k = svg.getBoundingClientRect().width / 720;
  return [...svg.querySelectorAll('text.tick')].map(t => parseFloat(getComputedStyle(t).fontSize) * k); }"""


@pytest.mark.parametrize("width", [390, 1280])
def test_chart_tick_labels_are_readable_on_phones_and_desktops(exp_site, run_build, tmp_path, width):
    """The experiment page's chart and the `exp:NAME/loss` image (a standalone SVG: its media
    queries and vw see the image's own width) keep tick labels >= 10 CSS px at 390 px, and not
    oversized on a desktop."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium")
    content = exp_site({"posts/p.md": post("実験の記録", "2017-12-16", "![損失](exp:ones/loss)\n", slug="p")})
    code, _, err, _ = run_build(content, out=tmp_path / "www" / "studylog")
    assert code == 0, err
    server = _served(tmp_path / "www")
    base = f"http://127.0.0.1:{server.server_address[1]}/studylog/"
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(base + "experiments/ones/")
            on_page = page.evaluate(TICK_PX)
            page.goto(base + "posts/p/")
            img_w, src = page.evaluate("(() => { const i = document.querySelector('img.chart-image');"
                                       " return [i.getBoundingClientRect().width, i.getAttribute('src')]; })()")
            svg = base64.b64decode(src.split(",", 1)[1]).decode()
            # the image as its own document, at the width it is shown: same viewport, same scale
            svg = re.sub(r'^<svg ([^>]*?)width="720" height="200"', r'<svg \1style="display:block;width:100%"', svg)
            img_page = browser.new_page(viewport={"width": round(img_w), "height": 300})
            img_page.set_content(f'<!doctype html><body style="margin:0">{svg}</body>')
            in_image = img_page.evaluate(TICK_PX.replace("svg.chart", "svg svg.chart"))
            browser.close()
    finally:
        server.shutdown()
    for sizes in (on_page, in_image):
        assert len(sizes) >= 6 and min(sizes) >= 10, (width, on_page, in_image)
        assert max(sizes) <= 16, (width, on_page, in_image)


def test_pages_have_an_inline_favicon_and_request_nothing_missing(exp_site, run_build, tmp_path):
    """Without an icon link, every page asked for /favicon.ico (outside the base path) and got a 404."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium")
    code, _, err, _ = run_build(exp_site(), out=tmp_path / "www" / "studylog")
    assert code == 0, err
    home = (tmp_path / "www" / "studylog" / "index.html").read_text(encoding="utf-8")
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="data:image/svg\+xml,([^"]+)">', home)
    assert icon, home[:800]
    from urllib.parse import unquote
    ElementTree.fromstring(unquote(icon[1]))                         # a well-formed SVG
    server = _served(tmp_path / "www")
    failed = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.on("response", lambda r: r.status >= 400 and failed.append((r.status, r.url)))
            page.on("requestfailed", lambda r: failed.append(("failed", r.url)))
            for rel in ("", "experiments/ones/"):
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/studylog/{rel}")
                page.wait_for_timeout(300)                           # the icon is fetched after load
            browser.close()
    finally:
        server.shutdown()
    assert failed == [], failed
