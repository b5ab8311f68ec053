"""Time the bundled experiments in one process, as `python build.py` runs them (one TF import).

    python bench/run_bundled.py [/work/notes/experiments.yaml] [--results DIR]
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from gan.config import parse_experiment  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("yaml", type=Path)
    ap.add_argument("--results", type=Path, default=Path("bench/out/results"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    t_all = time.perf_counter()
    specs = yaml.safe_load(a.yaml.read_text())
    import tensorflow  # noqa: F401  - counted once, like a build
    from gan.run import run_experiment
    print(f"import: {time.perf_counter() - t_all:.1f} s", flush=True)
    for name, mapping in specs.items():
        if a.only and name not in a.only:
            continue
        t = time.perf_counter()
        out = run_experiment(name, parse_experiment(mapping, path=a.yaml), a.results, quiet=True)
        r = json.loads((out / "run.json").read_text())
        print(f"{name:18s} {time.perf_counter() - t:6.1f} s  {r['steps_done']} steps  "
              f"{r['steps_per_second']} steps/s  {r['status']}", flush=True)
    print(f"total: {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
