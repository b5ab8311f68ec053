"""gan.metrics: Fréchet distance math, the failure flags on constructed cases, scored steps, config keys.

No TensorFlow here (the classifier has its own test file)."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from gan import metrics
from gan.config import ConfigError, parse_experiment


def test_frechet_identical_sets_is_zero():
    x = np.random.default_rng(0).standard_normal((500, 8))
    assert metrics.feature_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_shifted_and_scaled_gaussians_match_the_analytic_value():
    # N(mu1, s1^2 I) vs N(mu2, s2^2 I) in d dims: |mu1 - mu2|^2 + d (s1 - s2)^2
    d, mu1, mu2 = 6, np.zeros(6), np.full(6, 0.5)
    s1, s2 = 1.0, 2.0
    exact = metrics.frechet_distance(mu1, s1**2 * np.eye(d), mu2, s2**2 * np.eye(d))
    assert exact == pytest.approx(d * 0.25 + d * (s1 - s2) ** 2)
    # sampled: converges to the same value
    rng = np.random.default_rng(1)
    a = rng.standard_normal((200_000, d)) * s1 + mu1
    b = rng.standard_normal((200_000, d)) * s2 + mu2
    assert metrics.feature_distance(a, b) == pytest.approx(d * 0.25 + d, rel=0.02)


def test_frechet_non_diagonal_covariances():
    # 1-D case: (m1 - m2)^2 + (s1 - s2)^2; a rotated 2-D case equals its diagonal form
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(4 + 1)
    rot = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    s1, s2 = np.diag([4.0, 1.0]), np.diag([1.0, 9.0])
    a = metrics.frechet_distance([0, 0], rot @ s1 @ rot.T, [0, 0], rot @ s2 @ rot.T)
    assert a == pytest.approx(metrics.frechet_distance([0, 0], s1, [0, 0], s2)) == pytest.approx(1 + 4)


def test_scored_steps_every_kth_and_always_the_last():
    assert metrics.scored_steps([50, 100, 150, 200, 250], 1) == [50, 100, 150, 200, 250]
    assert metrics.scored_steps([50, 100, 150, 200, 250], 2) == [100, 200, 250]
    assert metrics.scored_steps([50, 100, 150, 200], 2) == [100, 200]
    assert metrics.scored_steps([50, 100], 0) == []


def test_quality_keys_in_the_config_schema():
    c = parse_experiment({"quality_every": 2, "quality_samples": 500})
    assert (c.quality_every, c.quality_samples) == (2, 500)
    d = parse_experiment({})
    assert (d.quality_every, d.quality_samples) == (2, 1000)
    assert parse_experiment({"model": "dcgan-by-example"}).quality_every == 3
    assert d.smoke().quality_samples == 100
    with pytest.raises(ConfigError) as e:
        parse_experiment({"quality_every": -1, "quality_samples": 3})
    assert len(e.value.errors) == 2


# ---------- flags on constructed cases ----------

def rows(scores, dists, *, every=50, floor=2.0, coverage=1, diversity=0.8):
    return [{"step": every * (i + 1), "digit_score": s, "distance": d, "floor": floor,
             "coverage": coverage, "diversity": diversity, "histogram": [0.0] * 10}
            for i, (s, d) in enumerate(zip(scores, dists))]


def recs(n, d_loss=0.6, g_loss=0.9):
    return [(s, d_loss, 0.5, g_loss, 0.4) for s in range(1, n + 1)]


def names(flags):
    return [f["flag"] for f in flags]


SNAPS = [50, 100, 150, 200, 250, 300]
HEALTHY = rows([0.2, 0.5, 0.8, 0.9, 0.95, 0.97], [40, 20, 10, 8, 6, 5])


def test_a_healthy_run_has_no_flags():
    assert metrics.compute_flags(recs(300), HEALTHY, snapshot_steps=SNAPS, digits=(1,)) == []


def test_flag_non_finite_loss():
    r = recs(300)
    r[120] = (121, float("nan"), 0.5, 1.0, 0.4)
    f = metrics.compute_flags(r, HEALTHY, snapshot_steps=SNAPS, digits=(1,))
    assert names(f) == ["non_finite"] and f[0]["step"] == 121
    # a run stopped by the trainer keeps only finite records but says so in its error
    f = metrics.compute_flags(recs(7), [], snapshot_steps=[], digits=(1,),
                              error="non-finite loss at iteration 8: d_loss=nan, g_loss=nan")
    assert names(f) == ["non_finite"]


def test_flag_discriminator_collapse_needs_several_snapshots():
    r = recs(150) + [(s, 0.01, 1.0, 9.0, 0.0) for s in range(151, 301)]  # 3 snapshots of collapse
    f = metrics.compute_flags(r, HEALTHY, snapshot_steps=SNAPS, digits=(1,))
    assert names(f) == ["d_collapse"] and f[0]["step"] == 200
    r = recs(200) + [(s, 0.01, 1.0, 9.0, 0.0) for s in range(201, 301)]  # only 2: not yet
    assert metrics.compute_flags(r, HEALTHY, snapshot_steps=SNAPS, digits=(1,)) == []
    r = recs(150) + [(s, 0.01, 1.0, 2.0, 0.0) for s in range(151, 301)]  # D wins but G loss is tame
    assert metrics.compute_flags(r, HEALTHY, snapshot_steps=SNAPS, digits=(1,)) == []


def test_flag_mode_collapse_by_coverage_and_by_diversity():
    q = rows([0.2, 0.5, 0.8, 0.9, 0.95, 0.97], [40, 20, 10, 8, 6, 5], coverage=3)
    f = metrics.compute_flags(recs(300), q, snapshot_steps=SNAPS, digits=tuple(range(10)), real_coverage=10)
    assert names(f) == ["mode_collapse"] and "3 classes" in f[0]["message"]
    q = rows([0.2, 0.5, 0.8, 0.9, 0.95, 0.97], [40, 20, 10, 8, 6, 5], coverage=9)
    assert metrics.compute_flags(recs(300), q, snapshot_steps=SNAPS, digits=tuple(range(10)), real_coverage=10) == []
    q = rows([0.2, 0.5, 0.8, 0.9, 0.95, 0.97], [40, 20, 10, 8, 6, 5], diversity=0.1)  # one digit, one stroke
    f = metrics.compute_flags(recs(300), q, snapshot_steps=SNAPS, digits=(1,))
    assert names(f) == ["mode_collapse"] and "diversity" in f[0]["message"]


def test_flag_stalled_when_the_last_half_does_not_improve():
    q = rows([0.3, 0.5, 0.5, 0.5, 0.49, 0.5], [40, 20, 21, 20.5, 22, 21])
    f = metrics.compute_flags(recs(300), q, snapshot_steps=SNAPS, digits=(1,))
    assert names(f) == ["stalled"] and f[0]["step"] == 200
    # a plateau at a good quality is not a stall
    q = rows([0.98, 0.99, 0.99, 0.99, 0.99, 0.99], [5, 4, 4.1, 4.2, 4.0, 4.1])
    assert metrics.compute_flags(recs(300), q, snapshot_steps=SNAPS, digits=(1,)) == []
    # too few scored snapshots to tell
    assert metrics.compute_flags(recs(300), q[:3], snapshot_steps=SNAPS[:3], digits=(1,)) == []


def test_metrics_import_needs_no_tensorflow():
    assert "tensorflow" not in sys.modules or True  # other tests may have imported it
    import subprocess
    code = "import sys, gan.metrics; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(metrics.__file__).parent.parent))
    assert out.stdout.strip() == "False", out.stderr


def test_quality_csv_rows(tmp_path):
    q = rows([0.5, 0.9], [10.0, float("nan")])
    for r in q:
        r["seconds"] = 1.0
    metrics.write_quality_csv(tmp_path / "q.csv", q)
    lines = (tmp_path / "q.csv").read_text().splitlines()
    assert lines[0].startswith("step,seconds,digit_score,distance,floor") and len(lines) == 3
    s = metrics.summary(q, classifier={"key": "k", "heldout_accuracy": 0.98}, samples=1000,
                        real_samples=162, every=1, seconds=1.0, real_coverage=1)
    assert s["final"]["distance"] is None and s["first_step_score_95"] is None
    assert math.isclose(s["snapshots"][0]["distance"], 10.0)
