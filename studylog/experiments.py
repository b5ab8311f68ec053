"""The seam between the site and gan/: which experiments must run, and what their results hold.

One place decides whether a stored result can be reused: its key (gan.keys: config, gan/ source,
dataset, TF/Keras versions) matches and it is a complete real run. gan's config and key code are
TensorFlow-free; TensorFlow is imported only when something must train.
"""
from __future__ import annotations

import csv
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from gan.config import ConfigError, ExperimentConfig, parse_experiment
from gan.data import DataError
from gan.keys import result_key

from .errors import BuildError, ContentError, display_path
from .guard import real_outside

# Stored statuses a build may reuse. A failed (non-finite loss) run is deterministic for its key,
# so training it again would fail the same way; a smoke result only stands in during --smoke.
REUSABLE = {False: {"fresh", "failed"}, True: {"fresh", "failed", "smoke"}}


@dataclass(frozen=True)
class Plan:
    name: str
    doc: object          # studylog.content.Document
    config: ExperimentConfig
    key: str
    state: str           # "fresh" (reuse) | "missing" | "stale" (other key) | "smoke" (only a smoke run)

    @property
    def must_run(self) -> bool:
        return self.state != "fresh"


@dataclass(frozen=True)
class Snapshot:
    step: int
    file: Path           # the PNG under results/NAME/


@dataclass
class Result:
    name: str
    dir: Path
    run: dict
    snapshots: list[Snapshot]
    records: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.run.get("status", "failed")

    @property
    def steps(self) -> list[int]:
        return [s.step for s in self.snapshots]

    def snapshot(self, step: int) -> Snapshot | None:
        return next((s for s in self.snapshots if s.step == step), None)

    @property
    def quality(self) -> list[dict]:
        """Scored snapshots (gan.metrics), in step order; [] for results without them."""
        q = self.run.get("quality") or {}
        rows = q.get("snapshots") if isinstance(q, dict) else None
        return [r for r in rows if isinstance(r, dict) and "step" in r] if isinstance(rows, list) else []

    @property
    def flags(self) -> list[dict]:
        f = self.run.get("flags")
        return [x for x in f if isinstance(x, dict) and "flag" in x] if isinstance(f, list) else []

    def file(self, role: str) -> Path | None:
        rel = self.run.get("files", {}).get(role)
        return self.dir / rel if rel and (self.dir / rel).is_file() else None


def read_run(result_dir: Path) -> dict | None:
    """run.json is written last (inside an atomic rename), so its presence means a whole result."""
    try:
        run = json.loads((result_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) else None


def parse(doc, errors: list[BuildError]) -> ExperimentConfig | None:
    mapping = doc.meta.get("experiment")
    if mapping is None:
        errors.append(BuildError(display_path(doc.path), doc.line_of(()), "an experiment needs an `experiment:` mapping in its front matter"))
        return None
    try:
        config = parse_experiment(mapping, path=doc.path, line_of=doc.line_of)
    except ConfigError as e:
        errors.extend(BuildError(display_path(doc.path), line or doc.line_of(("experiment",)), msg) for line, msg in e.errors)
        return None
    problems = dataset_problems(doc, config)
    errors.extend(problems)
    return None if problems else config


def dataset_problems(doc, config: ExperimentConfig) -> list[BuildError]:
    """IDX files, checked here where each has a line (the key hashes them next). A relative path
    must stay inside the content folder, like images and links (`../../x`, or a symlink out);
    an absolute one names an installed data set on purpose (Debian's /usr/share/datasets/...)."""
    if not isinstance(config.dataset, dict):
        return []
    content = Path(doc.path).absolute().parents[doc.rel.count("/")].resolve()
    out = []
    for which in ("images", "labels"):
        given, path = config.dataset["idx"][which], config.dataset_path(which)
        relative = not Path(given).expanduser().is_absolute()
        problem = (relative and _outside(given, path, content)) or unreadable(path)
        if problem:
            out.append(BuildError(display_path(doc.path), doc.line_of(("experiment", "dataset", "idx", which)), problem))
    return out


def unreadable(path: Path) -> str | None:
    """Why `path` cannot be hashed as a dataset file, or None: stat and open, no read (a FIFO or
    a device would hang the hash). Here, not in gan/: its source is part of every result key."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return f"dataset file {path} is not a regular file"
        with open(path, "rb"):
            return None
    except (OSError, ValueError) as e:   # ValueError: a NUL in the path
        return f"cannot read dataset file {path}: {getattr(e, 'strerror', None) or e}"


def _outside(given: str, path: Path, content: Path) -> str | None:
    try:
        real = real_outside(path, content)
    except ValueError as e:
        return f"dataset file {given!r}: {e}"
    if real is not None:
        return (f"dataset file {given!r} resolves to {real}, outside the content folder; "
                "copy it into the content folder or give its absolute path")
    return None


def plan(name: str, doc, config: ExperimentConfig, results_root: Path, *, smoke: bool = False) -> Plan:
    try:
        key = result_key(config, base_dir=config.source_dir)
    except DataError as e:   # parse() checked the files; this one changed since: still no traceback
        raise ContentError([BuildError(display_path(doc.path), doc.line_of(("experiment", "dataset")), str(e))]) from None
    run = read_run(results_root / name)
    if run is None:
        state = "missing"
    elif run.get("key") != key:
        state = "stale"
    elif run.get("status") in REUSABLE[smoke]:
        state = "fresh"
    else:
        state = "smoke"
    return Plan(name, doc, config, key, state)


def load_result(results_root: Path, name: str) -> Result | None:
    d = results_root / name
    run = read_run(d)
    if run is None:
        return None
    snaps = sorted((Snapshot(int(s["step"]), d / s["file"]) for s in run.get("samples", [])
                    if (d / s["file"]).is_file()), key=lambda s: s.step)
    records: list[dict] = []
    csv_path = d / run.get("files", {}).get("losses_csv", "losses.csv")
    if csv_path.is_file():
        with csv_path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                records.append({k: (int(v) if k == "step" else float(v)) for k, v in row.items()})
    return Result(name, d, run, snaps, records)


def run_plans(plans: list[Plan], results_root: Path, *, smoke: bool, quiet: bool,
              errors: list[BuildError]) -> list[str]:
    """Train what must run; returns the names that ran. TensorFlow is imported here, lazily."""
    todo = [p for p in plans if p.must_run]
    if not todo:
        return []
    import gc
    from gan.run import run_experiment  # the only path from the site to TensorFlow

    collecting = gc.isenabled()
    gc.enable()   # the build turns it off (studylog.build.build); a training loop needs it
    done = []
    try:
        for i, p in enumerate(todo, 1):
            if not quiet:
                print(f"experiment {i}/{len(todo)}: {p.name} ({p.state}{', smoke' if smoke else ''})", flush=True)
            try:
                run_experiment(p.name, p.config, results_root, quiet=quiet, smoke=smoke)
            except DataError as e:
                errors.append(BuildError(display_path(p.doc.path), p.doc.line_of(("experiment", "dataset")), str(e)))
                continue
            done.append(p.name)
    finally:
        if not collecting:
            gc.disable()
    return done
