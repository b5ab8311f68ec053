"""Stored results made without TensorFlow, for tests of the site half.

They have the real key of each experiment's config (so the build reuses them, as it would a real
run) and the layout gan/ writes: samples for every declared snapshot step, losses.csv, a loss
chart, an animation, summaries and run.json. The pixels are flat shades keyed to the step.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from PIL import Image

from gan.config import parse_experiment
from gan.keys import result_key

GRID = 356  # the size gan.artifacts gives a 4x4 grid


def declared_steps(cfg) -> list[int]:
    every, last = cfg.sample_every, cfg.steps
    return list(range(every, last + 1, every)) + ([last] if last % every else [])


def write_fake_result(results_root: Path, md: Path, *, status: str = "fresh", steps=None) -> Path:
    fm = yaml.safe_load(md.read_text(encoding="utf-8").split("---")[1])
    cfg = parse_experiment(fm.get("experiment"), path=md)
    d = Path(results_root) / md.stem
    (d / "samples").mkdir(parents=True, exist_ok=True)
    snaps = declared_steps(cfg) if steps is None else steps
    for s in snaps:
        Image.new("L", (GRID, GRID), 40 + (s * 7) % 200).save(d / "samples" / f"step-{s:06d}.png")
    rows = ["step,d_loss,d_acc,g_loss,g_acc"] + [
        f"{s},{0.7 - s / (10 * cfg.steps):.4f},0.5,{0.8 + s / (5 * cfg.steps):.4f},0.4"
        for s in range(1, (max(snaps) if snaps else 0) + 1)]
    (d / "losses.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    Image.new("RGB", (640, 400), "white").save(d / "loss.png")
    Image.new("L", (GRID, GRID), 90).save(d / "animation.gif")
    (d / "summary_generator.txt").write_text("Model: generator\nTotal params: 1\n", encoding="utf-8")
    (d / "summary_discriminator.txt").write_text("Model: discriminator\nTotal params: 1\n", encoding="utf-8")
    run = {"name": md.stem, "key": result_key(cfg, base_dir=cfg.source_dir), "status": status,
           "config": json.loads(cfg.canonical_json()), "run_config": json.loads(cfg.canonical_json()),
           "versions": {"python": "3", "tensorflow": "x", "keras": "x", "numpy": "x"},
           "started": "2017-12-15T10:00:00+00:00", "ended": "2017-12-15T10:01:00+00:00",
           "wall_seconds": 60.0, "train_seconds": 59.0, "steps_done": max(snaps) if snaps else 0,
           "steps_per_second": 5.0, "resumed_from_step": None, "seed": cfg.seed,
           "samples": [{"step": s, "file": f"samples/step-{s:06d}.png"} for s in snaps],
           "files": {"losses_csv": "losses.csv", "loss_chart": "loss.png", "animation": "animation.gif",
                     "summary_generator": "summary_generator.txt",
                     "summary_discriminator": "summary_discriminator.txt"},
           "error": None if status != "failed" else "non-finite loss at step 3"}
    (d / "run.json").write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")
    return d


def fake_all(content: Path, results_root: Path) -> None:
    """A fresh fake result for every experiment of `content` that has none yet."""
    for md in sorted((Path(content) / "experiments").glob("*.md")):
        if not (Path(results_root) / md.stem / "run.json").exists():
            write_fake_result(results_root, md)
