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
    assert int(line.group(1)) == 7          # front matter (5 lines) + blank + the reference
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
