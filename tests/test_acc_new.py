"""`python build.py new diary|note|experiment`."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, SITE_TOML


def new(content, *args):
    return subprocess.run([sys.executable, str(ROOT / "build.py"), "new", *args, "--content", str(content)],
                          capture_output=True, text=True, cwd=content.parent, timeout=60)


def front_matter(path):
    return yaml.safe_load(path.read_text("utf-8").split("---")[1])


def test_new_diary_for_a_date_then_never_overwrites(make_content, run_build):
    content = make_content({})
    r = new(content, "diary", "--date", "2017-12-14")      # a Thursday
    assert r.returncode == 0, r.stderr
    path = content / "posts" / "2017-12-11-diary.md"
    assert path.is_file() and str(path.name) in r.stdout
    fm = front_matter(path)
    assert fm["title"] == "2017-12-11 週の日記"
    assert str(fm["date"]) == "2017-12-11"
    body = path.read_text("utf-8")
    assert re.findall(r"^## (.+)$", body, re.M) == ["読んだ記事", "参加したイベント", "その他", "来週やりたいこと"]
    # the fresh diary builds, and its empty sections add nothing to the reading list
    code, _, err, out = run_build(content)
    assert code == 0, err
    assert (out / "posts" / "2017-12-11-週の日記" / "index.html").is_file()
    assert "acc-entry" not in (out / "reading" / "index.html").read_text("utf-8")

    path.write_text(path.read_text("utf-8") + "\n書きかけ。\n", encoding="utf-8")
    before = path.read_bytes()
    for day in ("2017-12-11", "2017-12-17"):                 # the same ISO week
        again = new(content, "diary", "--date", day)
        assert again.returncode == 1
        assert "already exists" in again.stderr and "not overwritten" in again.stderr
    assert path.read_bytes() == before


def test_new_diary_week_already_written_under_another_name(make_content):
    content = make_content({"posts/week.md": "---\ntitle: 2017-12-11 週の日記\ndate: 2017-12-11\n---\n"})
    r = new(content, "diary", "--date", "2017-12-12")
    assert r.returncode == 1 and "posts/week.md" in r.stderr
    assert not (content / "posts" / "2017-12-11-diary.md").exists()


def test_new_diary_defaults_to_this_week(make_content):
    content = make_content({})
    r = new(content, "diary")
    assert r.returncode == 0, r.stderr
    (path,) = (content / "posts").glob("*-diary.md")
    day = dt.date.fromisoformat(path.name[:10])
    assert day.weekday() == 0 and (dt.date.today() - day).days in range(-1, 8)


def test_new_note_and_bad_date(make_content, run_build):
    content = make_content({})
    r = new(content, "note", "論文メモ: Wasserstein GAN", "--date", "2017-12-20")
    assert r.returncode == 0, r.stderr
    path = content / "posts" / "2017-12-20-論文メモ-wasserstein-gan.md"
    assert front_matter(path)["title"] == "論文メモ: Wasserstein GAN"
    assert new(content, "note", "論文メモ: Wasserstein GAN", "--date", "2017-12-20").returncode == 1
    assert new(content, "diary", "--date", "2017-13-01").returncode == 2
    code, _, err, _ = run_build(content)
    assert code == 0, err


def test_new_experiment_template_parses(make_content):
    content = make_content({})
    r = new(content, "experiment", "fast-threes", "--date", "2017-12-20")
    assert r.returncode == 0, r.stderr
    path = content / "experiments" / "fast-threes.md"
    assert new(content, "experiment", "fast-threes").returncode == 1
    assert new(content, "experiment", "Bad Name").returncode == 2
    from studylog.content import parse_document
    from zoneinfo import ZoneInfo
    errors = []
    doc = parse_document(path, content, ZoneInfo("Asia/Tokyo"), errors)
    assert errors == [] and doc.experiment["steps"] == 200
    config = pytest.importorskip("gan.config")
    cfg = config.parse_experiment(doc.experiment, path=str(path), line_of=doc.line_of)
    assert cfg.model == "fast" and cfg.steps == 200
    # the commented optional keys are valid too, once uncommented
    text = path.read_text("utf-8")
    text = re.sub(r"(?m)^  # ((?:noise|optimizer|dropout|discriminator_convs|pretrain_d_steps|freeze_discriminator|seed|checkpoint_every):)",
                  r"  \1", text)
    text = re.sub(r"(?m)^  #   ((?:discriminator|generator):)", r"    \1", text)
    full = yaml.safe_load(text.split("---")[1])["experiment"]
    assert {"noise", "optimizer", "dropout", "seed"} <= set(full)
    config.parse_experiment(full, path=str(path))
