"""The `experiment:` mapping of a content file -> a validated, canonical ExperimentConfig.

Pure Python on purpose: the site generator parses every experiment on every build, and a build
whose results are all fresh must never import TensorFlow (tests check sys.modules).
Errors are collected, not raised one by one, as (line, message) pairs.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

MODELS = ("fast", "dcgan-by-example", "functional-two-class")
DATASETS = ("mnist-10k", "mnist")
NOISES = ("uniform-signed", "uniform", "normal")
OPTIMIZERS = ("adam", "rmsprop")
ALL_DIGITS = tuple(range(10))


class ConfigError(ValueError):
    """Every problem found in one experiment mapping, as (line, message) pairs."""

    def __init__(self, errors: list[tuple[int, str]], path: str | None = None):
        self.errors = list(errors)
        self.path = path
        super().__init__("\n".join(f"{path or '<experiment>'}:{line}: {msg}" for line, msg in self.errors))


def _opt(name: str, lr: float, beta_1: float = 0.9, decay: float = 0.0) -> dict:
    return {"name": name, "lr": lr, "beta_1": beta_1, "decay": decay}


# Preset defaults. The two article presets keep the articles' hyper-parameters (decay is the old
# Keras `lr / (1 + decay * iterations)`); only `steps` is cut to something a CPU finishes.
PRESETS: dict[str, dict[str, Any]] = {
    # In the spirit of the TensorFlow DCGAN tutorial (Adam 2e-4 / beta_1 0.5, normal noise,
    # tanh output), with narrower layers so a 2-core CPU trains it in a couple of minutes.
    "fast": {
        "dataset": "mnist-10k", "digits": list(ALL_DIGITS), "steps": 600, "batch_size": 64,
        "sample_every": 50, "noise": "normal",
        "optimizer": {"discriminator": _opt("adam", 2e-4, 0.5), "generator": _opt("adam", 2e-4, 0.5)},
        "dropout": 0.3, "discriminator_convs": 2, "pretrain_d_steps": 0,
        "freeze_discriminator": True, "seed": 0, "checkpoint_every": 100,
    },
    # "GAN by Example using Keras on Tensorflow Backend" (R. Atienza, 2017).
    "dcgan-by-example": {
        "dataset": "mnist-10k", "digits": list(ALL_DIGITS), "steps": 200, "batch_size": 256,
        "sample_every": 50, "noise": "uniform-signed",
        "optimizer": {"discriminator": _opt("rmsprop", 2e-4, decay=6e-8),
                      "generator": _opt("rmsprop", 1e-4, decay=3e-8)},
        "dropout": 0.4, "discriminator_convs": 4, "pretrain_d_steps": 0,
        "freeze_discriminator": True, "seed": 0, "checkpoint_every": 50,
    },
    # The functional-API GAN with a two-class softmax discriminator (real=[0,1], fake=[1,0]).
    "functional-two-class": {
        "dataset": "mnist-10k", "digits": list(ALL_DIGITS), "steps": 300, "batch_size": 32,
        "sample_every": 50, "noise": "uniform",
        "optimizer": {"discriminator": _opt("adam", 1e-3), "generator": _opt("adam", 1e-4)},
        "dropout": 0.25, "discriminator_convs": 2, "pretrain_d_steps": 20,
        "freeze_discriminator": True, "seed": 0, "checkpoint_every": 50,
    },
}
# dcgan-by-example: first N of 64/128/256/512; fast: first N of 32/64/128; functional: fixed 256/512.
CONV_RANGE = {"dcgan-by-example": (1, 4), "fast": (1, 3), "functional-two-class": (2, 2)}
KEYS = ("model",) + tuple(PRESETS["fast"])


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    model: str
    dataset: Any            # "mnist-10k" | "mnist" | {"idx": {"images": str, "labels": str}}
    digits: tuple[int, ...]
    steps: int
    batch_size: int
    sample_every: int
    noise: str
    optimizer: Any          # {"discriminator": {...}, "generator": {...}}
    dropout: float
    discriminator_convs: int
    pretrain_d_steps: int
    freeze_discriminator: bool
    seed: int
    checkpoint_every: int
    # Not part of the experiment's identity: where relative dataset paths are resolved.
    source_dir: str | None = dataclasses.field(default=None, compare=False)

    def as_dict(self) -> dict:
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)
             if f.name != "source_dir"}
        d["digits"] = list(self.digits)
        return d

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, fully defaulted: equal configs give equal strings."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def smoke(self) -> "ExperimentConfig":
        """A tiny variant that exercises the whole pipeline in seconds (never a real result)."""
        return dataclasses.replace(
            self, steps=min(self.steps, 4), batch_size=min(self.batch_size, 16),
            sample_every=2, pretrain_d_steps=min(self.pretrain_d_steps, 1), checkpoint_every=2)

    def dataset_path(self, which: str, base_dir: str | Path | None = None) -> Path:
        """Absolute path of an IDX file ("images" or "labels"), relative to the md file's folder."""
        p = Path(self.dataset["idx"][which]).expanduser()
        if p.is_absolute():
            return p
        return Path(base_dir or self.source_dir or ".") / p


class _Checker:
    """Collects errors with the line that each key path points at."""

    def __init__(self, line_of: Callable[[tuple], int] | None):
        self.line_of = line_of
        self.errors: list[tuple[int, str]] = []

    def line(self, path: tuple) -> int:
        # Fall back to the nearest existing parent when a key is missing from the source.
        while path:
            try:
                n = self.line_of(path) if self.line_of else None
            except Exception:  # noqa: BLE001 - a missing key is not our error to report
                n = None
            if isinstance(n, int):
                return n
            path = path[:-1]
        return 0

    def err(self, path: tuple, msg: str) -> None:
        self.errors.append((self.line(("experiment",) + path), f"experiment.{'.'.join(path)}: {msg}"))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_float(v):
    """Accept ints, floats and numeric strings: PyYAML reads `2e-4` (no dot) as a string."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _int_field(c: _Checker, key: str, v, minimum: int, maximum: int | None = None):
    if not _is_int(v) or v < minimum or (maximum is not None and v > maximum):
        rng = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        c.err((key,), f"must be an integer {rng}, got {v!r}")
        return None
    return v


def _optimizer(c: _Checker, v, defaults: dict) -> dict:
    out = copy.deepcopy(defaults)
    if not isinstance(v, dict):
        c.err(("optimizer",), f"must be a mapping with discriminator/generator, got {v!r}")
        return out
    for net, spec in v.items():
        if net not in ("discriminator", "generator"):
            c.err(("optimizer", str(net)), "unknown key (expected discriminator or generator)")
            continue
        if not isinstance(spec, dict):
            c.err(("optimizer", net), f"must be a mapping of name/lr/beta_1/decay, got {spec!r}")
            continue
        if "name" in spec and spec["name"] != out[net]["name"]:
            # A different optimizer does not inherit the preset's tuning of another one.
            out[net] = _opt(str(spec["name"]), out[net]["lr"])
        for k, val in spec.items():
            p = ("optimizer", net, str(k))
            if k == "name":
                if val not in OPTIMIZERS:
                    c.err(p, f"must be one of {', '.join(OPTIMIZERS)}, got {val!r}")
            elif k in ("lr", "beta_1", "decay"):
                f = _as_float(val)
                ok = f is not None and (f > 0 if k == "lr" else 0 <= f < 1 if k == "beta_1" else f >= 0)
                if not ok:
                    c.err(p, f"bad value {val!r} ({'> 0' if k == 'lr' else '0 <= x < 1' if k == 'beta_1' else '>= 0'})")
                else:
                    out[net][k] = f
            else:
                c.err(p, "unknown key (expected name, lr, beta_1, decay)")
    return out


def _dataset(c: _Checker, v):
    if v in DATASETS:
        return v
    if isinstance(v, dict) and set(v) == {"idx"} and isinstance(v["idx"], dict):
        idx = v["idx"]
        bad = False
        for k in ("images", "labels"):
            if not isinstance(idx.get(k), str) or not idx.get(k):
                c.err(("dataset", "idx", k), "must be a path to an IDX file (.gz allowed)")
                bad = True
        for k in set(idx) - {"images", "labels"}:
            c.err(("dataset", "idx", str(k)), "unknown key (expected images, labels)")
            bad = True
        return None if bad else {"idx": {"images": idx["images"], "labels": idx["labels"]}}
    c.err(("dataset",), f"must be mnist-10k, mnist or {{idx: {{images: PATH, labels: PATH}}}}, got {v!r}")
    return None


def _digits(c: _Checker, v):
    if v == "all":
        return ALL_DIGITS
    if _is_int(v):
        v = [v]
    if isinstance(v, list) and v and all(_is_int(d) and 0 <= d <= 9 for d in v):
        return tuple(sorted(set(v)))
    c.err(("digits",), f"must be `all` or a non-empty list of digits 0..9, got {v!r}")
    return None


def parse_experiment(mapping, *, path=None, line_of=None) -> ExperimentConfig:
    """Validate an `experiment:` mapping; fill the rest from the chosen preset.

    line_of(("experiment", "steps")) -> line number of that key in the source file.
    Raises ConfigError listing every problem at once.
    """
    c = _Checker(line_of)
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        c.err((), f"must be a mapping, got {type(mapping).__name__}")
        raise ConfigError(c.errors, str(path) if path else None)
    model = mapping.get("model", "fast")
    if model not in MODELS:
        c.err(("model",), f"must be one of {', '.join(MODELS)}, got {model!r}")
        model = "fast"
    d = copy.deepcopy(PRESETS[model])
    for key, v in mapping.items():
        if key == "model":
            continue
        if key not in KEYS:
            c.err((str(key),), f"unknown key (expected one of {', '.join(KEYS)})")
        elif key == "dataset":
            d[key] = _dataset(c, v)
        elif key == "digits":
            d[key] = _digits(c, v)
        elif key in ("steps", "batch_size", "sample_every", "checkpoint_every"):
            d[key] = _int_field(c, key, v, 1)
        elif key == "pretrain_d_steps":
            d[key] = _int_field(c, key, v, 0)
        elif key == "seed":
            d[key] = _int_field(c, key, v, 0, 2**31 - 1)
        elif key == "discriminator_convs":
            lo, hi = CONV_RANGE[model]
            d[key] = _int_field(c, key, v, lo, hi)
        elif key == "noise":
            if v not in NOISES:
                c.err((key,), f"must be one of {', '.join(NOISES)}, got {v!r}")
            d[key] = v
        elif key == "dropout":
            f = _as_float(v)
            if f is None or not 0 <= f < 1:
                c.err((key,), f"must be a number 0 <= x < 1, got {v!r}")
            d[key] = f
        elif key == "freeze_discriminator":
            if not isinstance(v, bool):
                c.err((key,), f"must be true or false, got {v!r}")
            d[key] = v
        elif key == "optimizer":
            d[key] = _optimizer(c, v, d[key])
    if c.errors:
        raise ConfigError(c.errors, str(path) if path else None)
    d["digits"] = tuple(d["digits"])
    src = str(Path(path).resolve().parent) if path else None
    return ExperimentConfig(model=model, source_dir=src, **d)
