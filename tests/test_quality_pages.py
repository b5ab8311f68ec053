"""Sample quality on the site: the chart pair and flag badges on the experiment page, badges in
the gallery, the build's closing summary table; read from run.json, no TensorFlow."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from fake_results import write_fake_result

EXP = """---
title: 1 だけで学習
date: 2017-12-15
experiment:
  model: fast
  digits: [1]
  steps: 100
  sample_every: 25
---
物語。
"""
EXP_ALL = EXP.replace("1 だけで学習", "全部の数字").replace("  digits: [1]\n", "  digits: all\n")


def site(make_content, tmp_path, *, ones_flags=(), all_quality=True):
    content = make_content({"experiments/ones.md": EXP, "experiments/all.md": EXP_ALL})
    results = tmp_path / "results"
    write_fake_result(results, content / "experiments" / "ones.md", flags=ones_flags)
    write_fake_result(results, content / "experiments" / "all.md", quality=all_quality)
    return content


def page(out: Path, rel: str) -> str:
    return (out / rel / "index.html").read_text(encoding="utf-8")


def test_experiment_page_shows_quality_charts_and_flag_badges(make_content, tmp_path, run_build):
    content = site(make_content, tmp_path, ones_flags=("mode_collapse", "stalled"))
    code, stdout, err, out = run_build(content)
    assert code == 0, err
    html = page(out, "experiments/ones")
    q = html[html.index('id="quality"'):]
    q = q[: q.index("</section>")]
    charts = re.findall(r'<svg class="chart quality".*?</svg>', q, re.S)
    assert len(charts) == 2
    assert "数字スコア" in charts[0] and len(re.findall(r"<circle class=\"dot score\"", charts[0])) == 4
    assert 'class="ref floor"' in charts[1] and "フレシェ距離" in charts[1]
    # the charts share the slider's step axis (0..100 like the loss chart)
    assert all('data-max-step="100"' in c for c in charts)
    head = html[: html.index("</h1>")]
    assert 'class="badge flag flag-mode_collapse"' in head and "モード崩壊" in head
    assert 'class="badge flag flag-stalled"' in head and "停滞" in head
    assert "held-out 正解率 0.9740" in q and "constructed mode_collapse" in q
    gallery = page(out, "experiments")
    card = gallery[gallery.index("<code>ones</code>") - 600: gallery.index("<code>ones</code>")]
    assert "flag-mode_collapse" in card and "flag-stalled" in card
    assert "数字スコア 1.00" in gallery


def test_results_without_quality_still_render(make_content, tmp_path, run_build):
    content = site(make_content, tmp_path, all_quality=False)
    code, _, err, out = run_build(content)
    assert code == 0, err
    html = page(out, "experiments/all")
    assert 'id="quality"' not in html and 'class="badge flag' not in html
    assert 'id="quality"' in page(out, "experiments/ones")


def test_build_prints_a_summary_table(make_content, tmp_path, capsys):
    from studylog.cli import main
    content = site(make_content, tmp_path, ones_flags=("d_collapse",), all_quality=False)
    code = main(["--content", str(content), "--out", str(tmp_path / "out"), "--no-search"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("experiment"))
    assert re.split(r"\s{2,}", lines[head]) == ["experiment", "status", "steps", "wall s", "digit score",
                                                 "distance (floor)", "flags"]
    rows = {ln.split()[0]: ln for ln in lines[head + 2: head + 4]}
    assert re.search(r"^ones\s+fresh\s+100\s+60\.0\s+1\.000\s+6 \(2\)\s+d_collapse$", rows["ones"])
    assert re.search(r"^all\s+fresh\s+100\s+60\.0\s+—\s+—\s+—$", rows["all"])


def test_summary_table_build_imports_no_tensorflow(make_content, tmp_path):
    """All results fresh: the table comes from run.json; neither TensorFlow nor keras is loaded."""
    content = site(make_content, tmp_path)
    code = ("import sys, runpy; sys.argv=['build.py','--content',sys.argv[1],'--out',sys.argv[2],'--no-search'];"
            "from studylog.cli import main; rc = main(sys.argv[1:]);"
            "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'noTF'); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, str(content), str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "distance (floor)" in r.stdout and r.stdout.strip().endswith("noTF")
    run = json.loads((tmp_path / "results" / "ones" / "run.json").read_text())
    assert run["quality"]["final"]["digit_score"] == 1.0


def test_distance_chart_is_logarithmic_and_clips_nothing():
    """The bundled fast-ones run went 146 -> 30 -> 10 -> 6.4 against a floor of 3.48; a linear
    axis scaled to the late snapshots drew 146 and 30 at the same height (both clipped)."""
    import re
    from studylog import charts
    assert charts.log_ticks(1, 1000) == [1, 10, 100, 1000]
    assert charts.log_ticks(1, 100) == [1, 2, 5, 10, 20, 50, 100]
    assert charts.log_range([146.456, 6.4, 3.48]) == (1.0, 1000.0)
    svg = charts.line_chart([100, 200, 300, 400], [charts.Series("d", [146.456, 30.39, 9.986, 6.405], "dist")],
                            max_step=400, title="t", markers=True, log_y=True,
                            refs=[charts.Reference("floor", 3.48, "floor")])
    ys = [float(v) for v in re.findall(r'<circle[^>]*cy="([\d.]+)"', svg)]
    assert ys == sorted(ys) and len(set(ys)) == 4          # strictly lower on the page at each step
    top, bottom = charts.PAD_TOP, charts.HEIGHT - charts.PAD_BOTTOM
    assert all(top < y < bottom for y in ys)                # nothing pinned to an edge
    span = math.log10(1000) - math.log10(1)                  # equal ratios, equal distances
    expect = [top + (bottom - top) * (1 - math.log10(v) / span) for v in (146.456, 30.39, 9.986, 6.405)]
    assert ys == pytest.approx(expect, abs=0.06)
