"""Run one experiment end to end: data -> train (resumable) -> results/NAME (atomic).

    python -m gan.run content/experiments/fast-ones.md [--results results] [-q] [--smoke]
"""
from __future__ import annotations

import argparse
import json
import datetime as dt
import platform
import re
import shutil
import sys
import time
from pathlib import Path

from gan import artifacts, data, metrics
from gan.config import ExperimentConfig, parse_experiment
from gan.keys import result_key


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def work_dir_for(results_root: Path, name: str, key: str, smoke: bool) -> Path:
    """Checkpoints live apart from results/NAME, survive a crash, and are keyed, so a changed
    experiment never resumes from a stale checkpoint."""
    return Path(results_root) / ".work" / f"{name}-{'smoke-' if smoke else ''}{key[:16]}"


def _drop_stale_work_dirs(results_root: Path, name: str, keep: Path) -> None:
    """Checkpoints of NAME under an older key can never be resumed again; free their disk."""
    pattern = re.compile(re.escape(name) + r"-(smoke-)?[0-9a-f]{16}")
    root = results_root / ".work"
    if root.is_dir():
        for p in root.iterdir():
            if p != keep and pattern.fullmatch(p.name):
                shutil.rmtree(p, ignore_errors=True)


def run_experiment(name: str, config: ExperimentConfig, results_root, *, quiet: bool = False,
                   smoke: bool = False, _crash_after: int | None = None) -> Path:
    """Train `config` (or its tiny smoke variant) and write results_root/NAME; returns that path.

    Resumes from results_root/.work/NAME-KEY if an earlier run was interrupted. A non-finite
    loss gives a complete result with status "failed" (never "fresh").
    """
    started, t0 = _now(), time.perf_counter()
    results_root = Path(results_root)
    key = result_key(config, base_dir=config.source_dir)
    run_cfg = config.smoke() if smoke else config
    work = work_dir_for(results_root, name, key, smoke)
    _drop_stale_work_dirs(results_root, name, keep=work)
    raw, _ = data.load_raw(run_cfg, base_dir=config.source_dir)

    import numpy
    from gan import native_stderr_held
    with native_stderr_held():
        import keras
        import tensorflow as tf
        from gan import models, train  # TensorFlow from here on

    sample_dir = work / "samples"
    scorer = None
    if run_cfg.quality_every:
        # Load (or, the first time, train) the classifier before the GAN's Trainer seeds Keras.
        clf = metrics.get_classifier(results_root, quiet=quiet)
        z_q = train.noise(run_cfg.noise, numpy.random.default_rng([run_cfg.seed, metrics.QUALITY_NOISE_STREAM]),
                          run_cfg.quality_samples, models.NOISE_DIM)
        scorer = metrics.Scorer(clf, run_cfg.digits, z_q)

    def snapshot(step, images, out_range):
        artifacts.save_grid(sample_dir / Path(artifacts.sample_name(step)).name, images, out_range)

    res = train.train(run_cfg, raw, work, quiet=quiet, on_snapshot=snapshot, crash_after=_crash_after,
                      desc=name + (" (smoke)" if smoke else ""), score=scorer.score if scorer else None)
    status = "failed" if res.status == "failed" else ("smoke" if smoke else "fresh")
    n_steps = len(res.records)
    run = {
        "name": name, "key": key, "status": status,
        "config": json.loads(config.canonical_json()),
        "run_config": json.loads(run_cfg.canonical_json()),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": numpy.__version__},
        "started": started, "ended": _now(),
        "wall_seconds": round(time.perf_counter() - t0, 2),
        "train_seconds": round(res.train_seconds, 2),
        "steps_done": res.steps_done,
        "steps_per_second": round(n_steps / res.train_seconds, 3) if res.train_seconds > 0 else None,
        "resumed_from_step": res.resumed_from,
        "seed": run_cfg.seed,
        "samples": [{"step": s, "file": artifacts.sample_name(s)} for s in res.samples],
        "error": res.error,
    }
    quality_rows = None
    if scorer is not None:
        quality_rows = res.quality
        run["quality"] = metrics.summary(
            res.quality, classifier={"key": clf.info["key"][:16], "heldout_accuracy": clf.accuracy},
            samples=run_cfg.quality_samples, real_samples=scorer.n, every=run_cfg.quality_every,
            seconds=scorer.seconds, real_coverage=scorer.real_coverage)
    run["flags"] = metrics.compute_flags(
        res.records, res.quality, snapshot_steps=res.samples, digits=run_cfg.digits, error=res.error,
        real_coverage=scorer.real_coverage if scorer else None)
    summaries = {"generator": models.summary_text(res.nets.generator),
                 "discriminator": models.summary_text(res.nets.discriminator)}
    out = artifacts.write_result(results_root / name, run=run, records=res.records,
                                 sample_dir=sample_dir, summaries=summaries, quality_rows=quality_rows)
    shutil.rmtree(work, ignore_errors=True)  # the result is in place; the checkpoints are spent
    return out


def _read_front_matter(md: Path):
    """Minimal front-matter reader for manual runs (the site generator has the real one)."""
    import yaml

    text = md.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise SystemExit(f"{md}: no YAML front matter")
    body = text.split("\n---", 1)[0][3:]
    lines = body.splitlines()

    def line_of(path):
        key = str(path[-1])
        for i, ln in enumerate(lines, start=1):  # lines[0] is the rest of the opening ---
            if ln.strip().startswith(f"{key}:"):
                return i
        return 1
    fm = yaml.safe_load(body) or {}
    return fm.get("experiment"), line_of


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run one experiment declared in a content file.")
    ap.add_argument("md", type=Path)
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--name", help="result name (default: the file's stem)")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny run to check the pipeline")
    a = ap.parse_args(argv)
    mapping, line_of = _read_front_matter(a.md)
    from gan.config import ConfigError
    try:
        cfg = parse_experiment(mapping, path=a.md, line_of=line_of)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    t = time.perf_counter()
    out = run_experiment(a.name or a.md.stem, cfg, a.results, quiet=a.quiet, smoke=a.smoke)
    print(f"{out} ({time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
