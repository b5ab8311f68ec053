"""gan.config and gan.keys: validation, defaults, canonical form, key recipe; no TensorFlow."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gan.config import PRESETS, ConfigError, parse_experiment
from gan.keys import package_version, result_key

ROOT = Path(__file__).resolve().parent.parent


def lines(*pairs):
    table = dict(pairs)
    return lambda path: table[path]


def test_defaults_come_from_the_preset():
    c = parse_experiment({"model": "dcgan-by-example", "digits": [1]}, path="e.md", line_of=None)
    assert c.batch_size == 256 and c.noise == "uniform-signed" and c.discriminator_convs == 4
    assert c.optimizer["discriminator"] == {"name": "rmsprop", "lr": 2e-4, "beta_1": 0.9, "decay": 6e-8}
    assert c.digits == (1,) and c.freeze_discriminator is True and c.seed == 0
    assert parse_experiment(None, path="e.md").model == "fast"
    assert parse_experiment({"digits": "all"}).digits == tuple(range(10))


def test_canonical_json_is_order_and_spelling_independent():
    a = parse_experiment({"digits": [3, 1, 1], "steps": 10, "optimizer": {"generator": {"lr": "2e-4"}}})
    b = parse_experiment({"optimizer": {"generator": {"lr": 0.0002}}, "steps": 10, "digits": [1, 3]})
    assert a.canonical_json() == b.canonical_json()
    d = json.loads(a.canonical_json())
    assert d["digits"] == [1, 3] and set(d) == set(PRESETS["fast"]) | {"model"}


def test_every_error_is_collected_with_its_line():
    lo = lines((("experiment", "stepz"), 4), (("experiment", "steps"), 5), (("experiment", "digits"), 6),
               (("experiment", "optimizer", "generator", "name"), 9), (("experiment", "noise"), 7),
               (("experiment",), 3), (("experiment", "freeze_discriminator"), 8))
    with pytest.raises(ConfigError) as e:
        parse_experiment({"stepz": 1, "steps": 0, "digits": [11], "noise": "pink",
                          "freeze_discriminator": "no", "optimizer": {"generator": {"name": "sgd", "lr": -1}}},
                         path="content/experiments/x.md", line_of=lo)
    errs = dict(e.value.errors)
    assert set(errs) == {4, 5, 6, 7, 8, 9, 3}  # lr has no line of its own: falls back to its parent chain
    assert "unknown key" in errs[4] and "steps" in errs[5]
    assert str(e.value).startswith("content/experiments/x.md:")


@pytest.mark.parametrize("bad", [{"steps": True}, {"batch_size": 1.5}, {"dropout": 1.0}, {"model": "gan"},
                                 {"discriminator_convs": 5, "model": "dcgan-by-example"},
                                 {"dataset": "cifar"}, {"dataset": {"idx": {"images": "a"}}},
                                 {"seed": -1}, {"sample_every": 0}, {"optimizer": {"critic": {}}}])
def test_bad_values_are_errors(bad):
    with pytest.raises(ConfigError):
        parse_experiment(bad, path="e.md", line_of=lambda p: 1)


def test_smoke_is_tiny():
    s = parse_experiment({"model": "dcgan-by-example", "steps": 500}).smoke()
    assert s.steps <= 4 and s.batch_size <= 16 and s.model == "dcgan-by-example"


def test_key_tracks_what_a_result_depends_on(tmp_path):
    a = parse_experiment({"digits": [1]})
    assert result_key(a) == result_key(parse_experiment({"digits": [1]}))
    assert result_key(a) != result_key(parse_experiment({"digits": [1], "seed": 1}))
    # checkpoint frequency cannot change a result (resume is exact), so it does not change the key
    assert result_key(a) == result_key(parse_experiment({"digits": [1], "checkpoint_every": 7}))
    assert package_version("no-such-dist", "numpy") != "absent"


def test_key_covers_idx_file_contents(tmp_path):
    (tmp_path / "i.idx").write_bytes(b"one")
    (tmp_path / "l.idx").write_bytes(b"two")
    md = tmp_path / "exp.md"
    c = parse_experiment({"dataset": {"idx": {"images": "i.idx", "labels": "l.idx"}}}, path=md)
    k1 = result_key(c)
    (tmp_path / "i.idx").write_bytes(b"changed")
    assert result_key(c) != k1


def test_parse_and_key_never_import_tensorflow():
    code = ("import sys; from gan.config import parse_experiment; from gan.keys import result_key;"
            "c = parse_experiment({'model': 'dcgan-by-example', 'digits': [1]}, path='x.md', line_of=None);"
            "result_key(c); c.smoke();"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
