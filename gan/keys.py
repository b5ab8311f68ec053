"""The result key: what an experiment's stored result depends on, hashed.

sha256 over the canonical config, the source of every gan/*.py, the dataset checksum and the
TensorFlow/Keras versions. No TensorFlow import: versions come from importlib.metadata, so a
build whose results are all fresh stays fast.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata as md
from pathlib import Path

from gan.config import ExperimentConfig

GAN_DIR = Path(__file__).resolve().parent
KEY_SCHEMA = "studylog-gan-key-1"  # bump when the key's recipe itself changes


def package_version(*names: str) -> str:
    """First installed distribution among names (TensorFlow may be tensorflow or tensorflow-cpu)."""
    for n in names:
        try:
            return md.version(n)
        except md.PackageNotFoundError:
            continue
    return "absent"


def versions() -> dict:
    return {"tensorflow": package_version("tensorflow", "tensorflow-cpu", "tensorflow-intel"),
            "keras": package_version("keras")}


def source_digest() -> str:
    h = hashlib.sha256()
    for f in sorted(GAN_DIR.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def result_key(config: ExperimentConfig, *, base_dir=None) -> str:
    from gan.data import dataset_checksum  # pure numpy/hashlib; still no TensorFlow

    v = versions()
    # checkpoint_every cannot change a result (resumed runs are bit-identical), so it is left out.
    identity = dataclasses.replace(config, checkpoint_every=0).canonical_json()
    h = hashlib.sha256()
    for part in (KEY_SCHEMA, identity, source_digest(),
                 dataset_checksum(config, base_dir=base_dir), v["tensorflow"], v["keras"]):
        h.update(part.encode() + b"\n")
    return h.hexdigest()
