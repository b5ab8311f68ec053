"""Sample quality: an MNIST classifier, the digit score, classifier-space Fréchet distance, flags.

Numbers instead of squinting at grids. A small CNN is trained once on the bundled digits
(a fixed held-out split is kept apart to measure it, and to serve as the "real" side of the
distance), stored under results/.classifier/KEY/ and reused by every experiment, like a result.

At each scored snapshot (every `quality_every`-th grid snapshot, and always the last one) the
generator draws a FIXED batch of `quality_samples` images (fixed noise, like the grid) and we record:

  digit_score  share of samples the classifier calls one of the experiment's digits with p >= 0.9
  histogram    share of samples per predicted class (0..9); coverage = classes holding >= 2%
  distance     Fréchet distance between Gaussians fitted to the classifier's penultimate-layer
               features of n generated samples and of n held-out real digits of the same classes
  floor        the same distance between two disjoint held-out real sets of n each: what a perfect
               generator would score at this sample size (n = min(samples, held-out count // 2))
  diversity    trace of the generated features' covariance over the real one's (1 = as varied)

Failure flags (thresholds are the module constants below; each is tested on a constructed case):
  non_finite         a loss became NaN/inf (the run stopped; status "failed").
  d_collapse         for >= D_COLLAPSE_SNAPSHOTS consecutive snapshots, the mean D loss over the
                     steps before the snapshot is < D_LOSS_NEAR_ZERO while the mean G loss is
                     > G_LOSS_EXPLODED: D wins outright and G gets no useful gradient.
  mode_collapse      at the last scored snapshot, coverage < MODE_COVERAGE_SHARE of the classes the
                     real data covers (multi-digit runs), or diversity < MODE_DIVERSITY_RATIO.
  stalled            with >= STALL_MIN_SNAPSHOTS scored snapshots: neither the distance (by
                     STALL_REL_DISTANCE) nor the digit score (by STALL_SCORE_GAIN) improved in the
                     last half of the run over the best of the first half, and the run is not
                     already good (digit score >= GOOD_SCORE and distance <= GOOD_FLOOR_MULTIPLE x floor).

Only numpy at import time: the pure parts (Fréchet distance, flags, CSV rows) are used by tests
and need no TensorFlow; keras is imported when the classifier is built or loaded.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

# --- scoring -------------------------------------------------------------------------------
CONFIDENT = 0.9             # p >= this counts a sample as the predicted digit
COVERAGE_SHARE = 0.02       # a class is covered when it holds >= 2% of the samples
QUALITY_NOISE_STREAM = 2**32 - 2   # rng stream of the fixed scoring noise (the grid uses 2**32-1)

# --- flags ---------------------------------------------------------------------------------
D_LOSS_NEAR_ZERO = 0.05
G_LOSS_EXPLODED = 5.0
D_COLLAPSE_SNAPSHOTS = 3
MODE_COVERAGE_SHARE = 0.5
MODE_DIVERSITY_RATIO = 0.25
STALL_MIN_SNAPSHOTS = 4
STALL_REL_DISTANCE = 0.10   # the best late distance must be 10% below the best early one
STALL_SCORE_GAIN = 0.02
GOOD_SCORE = 0.9
GOOD_FLOOR_MULTIPLE = 3.0

FLAG_LABELS = {"non_finite": "損失が非有限", "d_collapse": "識別器の圧勝",
               "mode_collapse": "モード崩壊", "stalled": "停滞"}

# --- the classifier ------------------------------------------------------------------------
CLASSIFIER = {"name": "mnist-cnn", "version": 1, "heldout": 3000, "split_seed": 0, "seed": 0,
              "epochs": 8, "batch_size": 64, "lr": 1e-3, "features": 64}
CLASSIFIER_ENV = "STUDYLOG_CLASSIFIER_DIR"   # overrides results/.classifier (tests share one)


# ============================ Fréchet distance ============================

def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, s1, mu2, s2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), with tr((S1 S2)^(1/2)) computed as the
    trace of (R S2 R)^(1/2), R = S1^(1/2): symmetric, so numpy's eigh suffices (no scipy)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(s1).astype(np.float64), np.atleast_2d(s2).astype(np.float64)
    r = _sqrtm_psd(s1)
    cross = np.linalg.eigvalsh((r @ s2 @ r + (r @ s2 @ r).T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(cross, 0, None)).sum())
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)
    return max(d, 0.0)


def feature_distance(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


# ============================ the classifier ============================

def _build_classifier(spec: dict):
    import keras
    from keras import layers

    keras.utils.set_random_seed(spec["seed"])
    x = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, activation="relu")(x)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(64, 3, activation="relu")(h)
    h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    feats = layers.Dense(spec["features"], activation="relu", name="features")(h)
    out = layers.Dense(10, activation="softmax", name="probs")(layers.Dropout(0.3)(feats))
    return keras.Model(x, out, name="mnist_classifier")


def _train_classifier(model, x, y, spec: dict) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(spec["lr"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=spec["epochs"], batch_size=spec["batch_size"], shuffle=True, verbose=0)


def split(n: int, spec: dict = CLASSIFIER) -> tuple[np.ndarray, np.ndarray]:
    """Fixed train / held-out indices of the bundled set."""
    perm = np.random.default_rng(spec["split_seed"]).permutation(n)
    return np.sort(perm[spec["heldout"]:]), np.sort(perm[: spec["heldout"]])


def classifier_key(spec: dict = CLASSIFIER) -> str:
    """Its own config, the data's checksums, the code that builds and trains it, TF/Keras versions."""
    from gan.data import BUNDLED_X_SHA256, BUNDLED_Y_SHA256
    from gan.keys import versions

    h = hashlib.sha256()
    v = versions()
    for part in (json.dumps(spec, sort_keys=True), BUNDLED_X_SHA256, BUNDLED_Y_SHA256,
                 inspect.getsource(_build_classifier), inspect.getsource(_train_classifier),
                 inspect.getsource(split), v["tensorflow"], v["keras"]):
        h.update(part.encode() + b"\n")
    return h.hexdigest()


def classifier_root(results_root) -> Path:
    env = os.environ.get(CLASSIFIER_ENV)
    return Path(env) if env else Path(results_root) / ".classifier"


def to_unit(images: np.ndarray, out_range=(0.0, 255.0)) -> np.ndarray:
    """Images in out_range -> float32 (N, 28, 28, 1) in 0..1, quantised like a saved grid."""
    lo, hi = out_range
    a = (np.asarray(images, np.float32).reshape(-1, 28, 28) - lo) / (hi - lo)
    a = np.rint(np.clip(a, 0.0, 1.0) * 255) / 255
    return a[..., None].astype(np.float32)


class Classifier:
    """The stored classifier: probabilities and penultimate-layer features in one forward pass."""

    def __init__(self, model, info: dict, directory: Path | None = None):
        import keras

        self.model, self.info, self.dir = model, info, directory
        self.both = keras.Model(model.inputs[0], [model.get_layer("probs").output,
                                               model.get_layer("features").output])
        self._real = None

    @property
    def accuracy(self) -> float:
        return float(self.info["heldout_accuracy"])

    def predict(self, x01: np.ndarray, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
        probs, feats = [], []
        for i in range(0, len(x01), batch):
            p, f = self.both(x01[i:i + batch], training=False)
            probs.append(np.asarray(p))
            feats.append(np.asarray(f))
        if not probs:
            return np.zeros((0, 10), np.float32), np.zeros((0, self.info["spec"]["features"]), np.float32)
        return np.concatenate(probs), np.concatenate(feats)

    def heldout(self) -> tuple[np.ndarray, np.ndarray]:
        """Held-out real digits (uint8) and labels: never seen by the classifier."""
        from gan.data import load_bundled

        x, y = load_bundled()
        _, held = split(len(x), self.info["spec"])
        return x[held], y[held].astype(np.int64)

    def real_features(self):
        if self._real is None:
            x, y = self.heldout()
            probs, feats = self.predict(to_unit(x))
            self._real = (y, probs, feats)
        return self._real


def get_classifier(results_root, *, quiet: bool = True, spec: dict = CLASSIFIER) -> Classifier:
    """Load the stored classifier for this key, or train and store it (first need)."""
    import keras

    key = classifier_key(spec)
    root = classifier_root(results_root)
    d = root / key[:16]
    info_path, weights = d / "classifier.json", d / "classifier.weights.h5"
    if info_path.is_file() and weights.is_file():
        info = json.loads(info_path.read_text())
        if info.get("key") == key:
            model = _build_classifier(spec)
            model.load_weights(weights)
            return Classifier(model, info, d)
    from gan.data import load_bundled

    t0 = time.perf_counter()
    if not quiet:
        print("training the MNIST classifier for sample quality (once)", flush=True)
    x, y = load_bundled()
    tr, held = split(len(x), spec)
    xs = to_unit(x)
    model = _build_classifier(spec)
    _train_classifier(model, xs[tr], y[tr].astype(np.int64), spec)
    probs = np.asarray(model.predict(xs[held], batch_size=500, verbose=0))
    acc = float((probs.argmax(1) == y[held]).mean())
    info = {"key": key, "spec": spec, "heldout_accuracy": round(acc, 5), "n_train": int(len(tr)),
            "n_heldout": int(len(held)), "train_seconds": round(time.perf_counter() - t0, 2),
            "keras": keras.__version__}
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{key[:16]}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        bare = _build_classifier(spec)          # without the optimizer's state: weights only
        bare.set_weights(model.get_weights())
        bare.save_weights(tmp / weights.name)
        (tmp / info_path.name).write_text(json.dumps(info, indent=2) + "\n")
        if d.exists():
            shutil.rmtree(d, ignore_errors=True)
        os.replace(tmp, d)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (info_path.is_file() and weights.is_file()):   # another process won the race
            raise
    if not quiet:
        print(f"classifier: held-out accuracy {acc:.4f} ({info['train_seconds']:.0f} s)", flush=True)
    return Classifier(model, info, d)


# ============================ scoring a generator ============================

def real_sets(labels: np.ndarray, feats: np.ndarray, digits, n_max: int):
    """Two disjoint held-out real feature sets of the experiment's classes, n each."""
    idx = np.flatnonzero(np.isin(labels, list(digits)))
    idx = np.random.default_rng(12345).permutation(idx)
    n = int(min(n_max, len(idx) // 2))
    return feats[idx[:n]], feats[idx[n:2 * n]]


class Scorer:
    """Scores a generator at a snapshot, from a fixed batch of `samples` noise vectors."""

    def __init__(self, classifier: Classifier, digits, z: np.ndarray):
        self.clf, self.digits, self.z = classifier, tuple(int(d) for d in digits), z
        labels, _, feats = classifier.real_features()
        self.real_a, self.real_b = real_sets(labels, feats, self.digits, len(z))
        self.n = len(self.real_a)
        self.floor = feature_distance(self.real_a, self.real_b) if self.n > 1 else float("nan")
        self.real_trace = float(np.trace(np.atleast_2d(np.cov(self.real_a, rowvar=False))))
        real_hist = np.bincount(labels[np.isin(labels, self.digits)], minlength=10) / max(
            1, np.isin(labels, self.digits).sum())
        self.real_coverage = int((real_hist >= COVERAGE_SHARE).sum())
        self.seconds = 0.0

    def score(self, step: int, generate, out_range, batch: int = 500) -> dict:
        t0 = time.perf_counter()
        imgs = np.concatenate([generate(self.z[i:i + batch]) for i in range(0, len(self.z), batch)])
        probs, feats = self.clf.predict(to_unit(imgs, out_range))
        row = score_row(step, probs, feats, self.digits, self.real_a, self.floor, self.real_trace)
        self.seconds += time.perf_counter() - t0
        return row


def score_row(step, probs, feats, digits, real_a, floor, real_trace) -> dict:
    pred, conf = probs.argmax(1), probs.max(1)
    hist = np.bincount(pred, minlength=10) / max(len(pred), 1)
    n = len(real_a)
    gen = feats[:n]
    finite = np.isfinite(gen).all() and n > 1
    dist = feature_distance(gen, real_a) if finite else float("nan")
    div = float(np.trace(np.atleast_2d(np.cov(gen, rowvar=False)))) / real_trace if finite and real_trace > 0 else float("nan")
    return {"step": int(step),
            "digit_score": float(np.mean(np.isin(pred, list(digits)) & (conf >= CONFIDENT))),
            "distance": dist, "floor": float(floor), "coverage": int((hist >= COVERAGE_SHARE).sum()),
            "diversity": div, "histogram": [float(h) for h in hist]}


def scored_steps(snapshot_steps: list[int], every: int) -> list[int]:
    """Every `every`-th snapshot, and always the last one; none when every == 0."""
    if not every or not snapshot_steps:
        return []
    picked = [s for i, s in enumerate(snapshot_steps, 1) if i % every == 0]
    return picked if picked and picked[-1] == snapshot_steps[-1] else picked + [snapshot_steps[-1]]


# ============================ flags ============================

def _flag(name: str, step, message: str) -> dict:
    return {"flag": name, "label": FLAG_LABELS[name], "step": step, "message": message}


def compute_flags(records, quality, *, snapshot_steps, digits, error=None, real_coverage=None) -> list[dict]:
    """records: [(step, d_loss, d_acc, g_loss, g_acc)]; quality: score rows, in step order."""
    flags: list[dict] = []
    recs = np.asarray(records, np.float64).reshape(-1, 5)
    # non-finite loss
    bad = ~np.isfinite(recs[:, [1, 3]]).all(axis=1) if len(recs) else np.zeros(0, bool)
    if bad.any():
        flags.append(_flag("non_finite", int(recs[bad][0, 0]), f"non-finite loss at step {int(recs[bad][0, 0])}"))
    elif error and "non-finite" in str(error):
        flags.append(_flag("non_finite", recs[-1, 0].astype(int).item() if len(recs) else 0, str(error)))
    # discriminator collapse: windows between snapshots
    run, prev, first = 0, 0, None
    for s in snapshot_steps:
        w = recs[(recs[:, 0] > prev) & (recs[:, 0] <= s)]
        prev = s
        if not len(w):
            continue
        d, g = float(np.nanmean(w[:, 1])), float(np.nanmean(w[:, 3]))
        if d < D_LOSS_NEAR_ZERO and g > G_LOSS_EXPLODED:
            run += 1
            first = s if run == 1 else first
            if run == D_COLLAPSE_SNAPSHOTS:
                flags.append(_flag("d_collapse", first,
                                   f"D loss < {D_LOSS_NEAR_ZERO} and G loss > {G_LOSS_EXPLODED} for "
                                   f"{D_COLLAPSE_SNAPSHOTS}+ snapshots from step {first}"))
        else:
            run = 0
    q = [r for r in quality if r.get("distance") is not None]
    if q:
        last = q[-1]
        cov_need = MODE_COVERAGE_SHARE * (real_coverage if real_coverage else len(digits))
        if len(digits) > 1 and last["coverage"] < cov_need:
            flags.append(_flag("mode_collapse", last["step"],
                               f"{last['coverage']} classes hold >= {COVERAGE_SHARE:.0%} of samples; "
                               f"the real data has {real_coverage or len(digits)}"))
        elif math.isfinite(last.get("diversity", math.nan)) and last["diversity"] < MODE_DIVERSITY_RATIO:
            flags.append(_flag("mode_collapse", last["step"],
                               f"feature diversity {last['diversity']:.2f} of the real data's "
                               f"(< {MODE_DIVERSITY_RATIO})"))
    if len(q) >= STALL_MIN_SNAPSHOTS:
        half = q[-1]["step"] / 2
        early = [r for r in q if r["step"] <= half]
        late = [r for r in q if r["step"] > half]
        if early and late:
            def best_d(rows):
                v = [r["distance"] for r in rows if math.isfinite(r["distance"])]
                return min(v) if v else math.inf
            improved = (best_d(late) < (1 - STALL_REL_DISTANCE) * best_d(early)
                        or max(r["digit_score"] for r in late) > max(r["digit_score"] for r in early) + STALL_SCORE_GAIN)
            last = q[-1]
            good = (last["digit_score"] >= GOOD_SCORE and math.isfinite(last["distance"])
                    and last["distance"] <= GOOD_FLOOR_MULTIPLE * last["floor"])
            if not improved and not good:
                flags.append(_flag("stalled", late[0]["step"],
                                   f"no improvement after step {late[0]['step']}: best distance "
                                   f"{best_d(late):.3g} vs {best_d(early):.3g}, digit score "
                                   f"{max(r['digit_score'] for r in late):.2f} vs "
                                   f"{max(r['digit_score'] for r in early):.2f}"))
    return flags


# ============================ records ============================

CSV_FIELDS = ["step", "seconds", "digit_score", "distance", "floor", "coverage", "diversity"] + [
    f"p{d}" for d in range(10)]


def write_quality_csv(path: Path, rows) -> None:
    lines = [",".join(CSV_FIELDS)]
    for r in rows:
        vals = [str(r["step"]), f"{r.get('seconds', 0):.2f}", f"{r['digit_score']:.4f}", f"{r['distance']:.6g}",
                f"{r['floor']:.6g}", str(r["coverage"]), f"{r['diversity']:.4f}"] + [f"{h:.4f}" for h in r["histogram"]]
        lines.append(",".join(vals))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def summary(rows, *, classifier: dict, samples: int, real_samples: int, every: int,
            seconds: float, real_coverage: int) -> dict:
    """run.json "quality": the last scored snapshot, the first step reaching score 0.95, the
    classifier it was measured with and the cost."""
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v
    last = rows[-1] if rows else None
    reached = next((r["step"] for r in rows if r["digit_score"] >= 0.95), None)
    return {
        "csv": "quality.csv", "every": every, "samples": samples, "real_samples": real_samples,
        "classifier": classifier, "real_coverage": real_coverage, "seconds": round(seconds, 2),
        "final": None if last is None else {k: clean(v) for k, v in last.items()},
        "first_step_score_95": reached,
        "snapshots": [{k: clean(v) for k, v in r.items() if k != "histogram"} for r in rows],
    }
