"""The MNIST classifier behind the quality scores: trained once per cache folder (the tests share
one, see conftest), its held-out accuracy >= 97%, reused by key; a scorer on real digits scores
like real digits."""
from __future__ import annotations

import numpy as np
import pytest

from gan import metrics


@pytest.fixture(scope="session")
def clf(tmp_path_factory):
    # STUDYLOG_CLASSIFIER_DIR (conftest) keeps it across the session and between sessions.
    return metrics.get_classifier(tmp_path_factory.mktemp("results"))


def test_heldout_accuracy_at_least_97_percent(clf):
    x, y = clf.heldout()
    probs, feats = clf.predict(metrics.to_unit(x))
    acc = float((probs.argmax(1) == y).mean())
    assert acc >= 0.97, acc
    assert acc == pytest.approx(clf.accuracy, abs=1e-3)   # what the stored json says
    assert feats.shape == (len(x), metrics.CLASSIFIER["features"])
    assert len(x) == metrics.CLASSIFIER["heldout"]


def test_stored_and_reused_by_key(clf, tmp_path):
    again = metrics.get_classifier(tmp_path)
    assert again.dir == clf.dir and again.info["key"] == metrics.classifier_key()
    assert (clf.dir / "classifier.weights.h5").is_file()
    other = dict(metrics.CLASSIFIER, epochs=metrics.CLASSIFIER["epochs"] + 1)
    assert metrics.classifier_key(other) != metrics.classifier_key()


def test_real_digits_score_like_real_digits(clf):
    """A 'generator' that returns held-out real 1s: digit score near 1, distance near the floor."""
    x, y = clf.heldout()
    ones = x[y == 1]
    z = np.arange(200, dtype=np.float32)[:, None]
    scorer = metrics.Scorer(clf, [1], z)
    # different real 1s than the scorer's reference sets where possible: the training split
    from gan.data import load_bundled
    xa, ya = load_bundled()
    train_idx, _ = metrics.split(len(xa))
    pool = xa[train_idx][ya[train_idx] == 1]
    row = scorer.score(50, lambda zb: pool[zb[:, 0].astype(int)], (0.0, 255.0))
    assert row["digit_score"] > 0.95 and row["coverage"] == 1
    assert row["distance"] < 3 * scorer.floor
    noise = scorer.score(50, lambda zb: np.random.default_rng(0).uniform(0, 255, (len(zb), 28, 28)), (0.0, 255.0))
    assert noise["distance"] > 3 * scorer.floor and noise["digit_score"] < 0.5
    assert len(ones) > 2 * scorer.n - 1
