"""SIGKILL while build.py trains a tiny real experiment (fast model, batch 8, 40 steps): killed at
its first checkpoint and again as it publishes, nothing half-written is ever taken, the old
site stays, and the next build resumes from the checkpoint instead of starting over.
(About 40 s: two processes import TensorFlow.)"""
from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SITE_TOML, post, write_files
from test_safe_faults import tree_hash

if importlib.util.find_spec("tensorflow") is None:     # (not imported here: the builds import it)
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

TINY = "{model: fast, digits: [1], steps: 40, batch_size: 8, sample_every: 20, checkpoint_every: 10}"


def results_whole(root: Path) -> list[str]:
    """Every results/NAME is complete (run.json and every file it lists) - or it is absent."""
    problems = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []:
        try:
            run = json.loads((d / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"{d.name}: no readable run.json ({e})")
            continue
        listed = list(run.get("files", {}).values()) + [s["file"] for s in run.get("samples", [])]
        problems += [f"{d.name}: {f} missing" for f in listed if not (d / f).is_file()]
    return problems


def start(content: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "build.py"), "--content", str(content), "--out", str(out),
                             "-q", "--no-search"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when(p: subprocess.Popen, seen, timeout: float = 90) -> bool:
    """SIGKILL `p` as soon as `seen()` is true; False if the build ended first."""
    end = time.time() + timeout
    while time.time() < end and p.poll() is None:
        if seen():
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True
        time.sleep(0.005)
    p.kill()
    p.wait()
    return False


def test_sigkill_during_training_resumes_and_never_publishes_half(tmp_path):
    content = write_files(tmp_path / "content", {
        "site.toml": SITE_TOML,
        "posts/p.md": post("p", "2017-12-02", "本文。\n"),
    })
    out, results = tmp_path / "_site", tmp_path / "results"
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "--content", str(content), "--out", str(out), "-q",
                        "--no-search"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    old_site = tree_hash(out)
    write_files(content, {"experiments/tiny.md": f"---\ntitle: tiny\ndate: 2017-12-01\nexperiment: {TINY}\n---\n![g](exp:tiny@20)\n",
                          "posts/p.md": post("p", "2017-12-02", "![g](exp:tiny@40)\n")})
    work = results / ".work"

    # 1. killed right after its first checkpoint is written
    p = start(content, out)
    assert kill_when(p, lambda: any(work.glob("tiny-*/state.json")))
    assert results_whole(results) == [] and not (results / "tiny").exists()
    assert tree_hash(out) == old_site
    state = json.loads(next(work.glob("tiny-*/state.json")).read_text())
    assert state["records"] and state["records"][-1][0] % 10 == 0

    # 2. resumed, and killed the moment its result is published (before the site is written):
    #    on its way, every look at results/ finds nothing or a whole result
    p = start(content, out)
    looks = []

    def published() -> bool:
        looks.append(results_whole(results))
        return (results / "tiny").exists()
    assert kill_when(p, published), "the build ended before it published"
    assert results_whole(results) == [] and all(v == [] for v in looks) and len(looks) > 10
    assert tree_hash(out) == old_site

    # 3. a normal build reuses the published result (no training) and writes the new site
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "--content", str(content), "--out", str(out), "-q",
                        "--no-search"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert results_whole(results) == []
    run = json.loads((results / "tiny" / "run.json").read_text())
    assert run["status"] == "fresh" and run["steps_done"] == 40
    assert run["resumed_from_step"] is not None and run["resumed_from_step"] >= 10
    assert (out / "experiments" / "tiny" / "index.html").is_file() and tree_hash(out) != old_site
    assert not list(results.glob(".tmp-tiny-*"))
