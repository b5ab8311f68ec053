"""gan.train / gan.run: what each step may change, exact resume, failure, the result folder.

Tiny configs only (batch 8, a handful of steps): each Trainer costs a few seconds of tracing.
"""
import json

import numpy as np
import pytest

from gan import data
from gan.config import parse_experiment

tf = pytest.importorskip("tensorflow")
from gan import run, train  # noqa: E402

TINY = {"digits": [1], "steps": 7, "batch_size": 8, "sample_every": 3, "checkpoint_every": 3,
        "quality_samples": 50}  # scoring 1000 samples through the big generators would take most of the test


@pytest.fixture(scope="module")
def ones():
    return data.load_raw(parse_experiment({"digits": [1]}))[0][:200]


def weights(variables):
    return [v.numpy().copy() for v in variables]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def one_step(t, x, train_d, train_g):
    real, z = t.batch(data.scale(x, t.nets.out_range), 0)
    t.step(real, z, train_d, train_g)


@pytest.mark.parametrize("freeze", [True, False])
def test_generator_step_touches_discriminator_only_when_unfrozen(ones, freeze):
    t = train.Trainer(parse_experiment(dict(TINY, freeze_discriminator=freeze)))
    g, d = t.nets.generator, t.nets.discriminator
    d0, g0 = weights(d.trainable_variables), weights(g.trainable_variables)
    one_step(t, ones, train_d=False, train_g=True)
    assert not same(g0, weights(g.trainable_variables))
    if freeze:
        assert same(d0, weights(d.trainable_variables))  # bit-identical
    else:
        assert not same(d0, weights(d.trainable_variables))  # the old articles' mistake
    # and a discriminator step moves D but never G's weights
    d1, g1 = weights(d.trainable_variables), weights(g.trainable_variables)
    one_step(t, ones, train_d=True, train_g=False)
    assert not same(d1, weights(d.trainable_variables))
    assert same(g1, weights(g.trainable_variables))


def test_resumed_run_equals_uninterrupted_run(ones, tmp_path):
    cfg = parse_experiment(dict(TINY, model="fast", pretrain_d_steps=1))
    full = train.train(cfg, ones, tmp_path / "a", quiet=True)
    with pytest.raises(train.Interrupted):
        train.train(cfg, ones, tmp_path / "b", quiet=True, crash_after=5)  # checkpoint at 3, lost 4..5
    resumed = train.train(cfg, ones, tmp_path / "b", quiet=True)
    assert resumed.resumed_from == 3
    assert resumed.records == full.records and len(full.records) == 7
    assert resumed.samples == full.samples == [3, 6, 7]
    for net in ("generator", "discriminator"):  # weights, BN statistics and dropout RNG state
        assert same(weights(getattr(full.nets, net).variables), weights(getattr(resumed.nets, net).variables))


def test_run_experiment_writes_a_complete_result_and_resumes(tmp_path):
    cfg = parse_experiment(dict(TINY, model="functional-two-class", pretrain_d_steps=1))
    a = run.run_experiment("a", cfg, tmp_path / "r1", quiet=True)
    with pytest.raises(train.Interrupted):
        run.run_experiment("b", cfg, tmp_path / "r2", quiet=True, _crash_after=5)
    assert not (tmp_path / "r2" / "b").exists()  # nothing half-written is ever in place
    work = tmp_path / "r2" / ".work"
    (work / "b-0123456789abcdef").mkdir()   # checkpoints of an older config of b: dropped
    (work / "bb-0123456789abcdef").mkdir()  # another experiment's: kept
    (tmp_path / "r2" / ".tmp-b-deadbeef").mkdir()  # a killed publish: dropped
    b = run.run_experiment("b", cfg, tmp_path / "r2", quiet=True)
    assert (a / "losses.csv").read_bytes() == (b / "losses.csv").read_bytes()
    r = json.loads((a / "run.json").read_text())
    assert r["status"] == "fresh" and r["steps_done"] == 7 and r["error"] is None
    assert [s["step"] for s in r["samples"]] == [3, 6, 7]
    for s in r["samples"]:
        assert (a / s["file"]).read_bytes() == (b / s["file"]).read_bytes()
    assert set(r["files"]) == {"losses_csv", "loss_chart", "animation", "summary_generator",
                               "summary_discriminator"}
    assert all((a / f).is_file() for f in r["files"].values())
    assert "Total params" in (a / "summary_generator.txt").read_text()
    assert len((a / "losses.csv").read_text().splitlines()) == 8
    assert json.loads((b / "run.json").read_text())["resumed_from_step"] == 3
    assert [p.name for p in work.iterdir()] == ["bb-0123456789abcdef"]  # ours removed after success
    assert not (tmp_path / "r2" / ".tmp-b-deadbeef").exists()
    from PIL import Image
    with Image.open(a / r["samples"][0]["file"]) as im:
        assert im.size == (356, 356)


def test_non_finite_loss_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "scale", lambda x, rng: np.full(x.shape + (1,), np.nan, np.float32))
    cfg = parse_experiment(dict(TINY, model="dcgan-by-example", discriminator_convs=1))
    out = run.run_experiment("nan", cfg, tmp_path, quiet=True)
    r = json.loads((out / "run.json").read_text())
    assert r["status"] == "failed" and "non-finite" in r["error"] and r["steps_done"] == 0


def test_smoke_run_is_marked(tmp_path):
    cfg = parse_experiment({"digits": [0], "steps": 500})
    r = json.loads((run.run_experiment("s", cfg, tmp_path, quiet=True, smoke=True) / "run.json").read_text())
    assert r["status"] == "smoke" and r["steps_done"] == 4 and r["config"]["steps"] == 500


def test_tensorflow_import_notices_are_held_and_failures_replayed():
    """TF 2.21 writes absl/oneDNN notices to fd 2 at import whatever TF_CPP_MIN_LOG_LEVEL says;
    the build holds them back (they buried the progress bars) but replays them if the block fails."""
    import subprocess
    import sys
    from conftest import ROOT
    quiet = subprocess.run([sys.executable, "-c", "from gan import native_stderr_held\n"
                            "with native_stderr_held():\n import keras, tensorflow"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = subprocess.run([sys.executable, "-c", "import os\nfrom gan import native_stderr_held\n"
                           "with native_stderr_held():\n os.write(2, b'native why\\n')\n raise ImportError('boom')"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert loud.returncode == 1 and loud.stderr.startswith("native why\n") and "ImportError: boom" in loud.stderr
    unheld = subprocess.run([sys.executable, "-c", "import tensorflow"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert "absl::InitializeLog" in unheld.stderr   # the notice this guards against still exists
