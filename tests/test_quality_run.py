"""A real (tiny) run scores its snapshots: run.json "quality"/"flags" and quality.csv, identical
after a crash and resume; quality_every: 0 scores nothing."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorflow")

from gan import run, train  # noqa: E402
from gan.config import parse_experiment  # noqa: E402

TINY = {"digits": [1], "steps": 6, "batch_size": 8, "sample_every": 2, "checkpoint_every": 2,
        "quality_every": 1, "quality_samples": 40}


def test_tiny_run_writes_quality_and_resumes_it(tmp_path):
    cfg = parse_experiment(TINY)
    a = run.run_experiment("a", cfg, tmp_path / "r1", quiet=True)
    with pytest.raises(train.Interrupted):
        run.run_experiment("b", cfg, tmp_path / "r2", quiet=True, _crash_after=5)   # scored 2 and 4
    b = run.run_experiment("b", cfg, tmp_path / "r2", quiet=True)
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    q = ra["quality"]
    assert [r["step"] for r in q["snapshots"]] == [2, 4, 6] and q["samples"] == 40 and q["real_samples"] == 40
    assert q["classifier"]["heldout_accuracy"] >= 0.97 and q["final"]["step"] == 6
    assert 0 <= q["final"]["digit_score"] <= 1 and q["final"]["floor"] > 0
    assert isinstance(ra["flags"], list)
    lines = (a / "quality.csv").read_text().splitlines()
    assert lines[0].startswith("step,seconds,digit_score,distance,floor") and len(lines) == 4
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in q["snapshots"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in rb["quality"]["snapshots"]]
    assert set(ra["files"]) == {"losses_csv", "loss_chart", "animation", "summary_generator",
                                "summary_discriminator"}   # the contract's files, unchanged


def test_quality_every_zero_scores_nothing(tmp_path):
    cfg = parse_experiment(dict(TINY, quality_every=0, steps=2))
    r = json.loads((run.run_experiment("z", cfg, tmp_path, quiet=True) / "run.json").read_text())
    assert "quality" not in r and r["flags"] == [] and not (tmp_path / "z" / "quality.csv").exists()
