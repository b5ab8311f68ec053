"""The three network presets, ported to Keras 3 with the articles' shapes.

build(config) -> Nets(generator, discriminator, noise_dim, out_range, d_output):
  d_output says how to read D: "logit" (one unbounded score), "sigmoid" (one probability),
  "softmax2" (two probabilities, real = [0, 1], fake = [1, 0]).
"""
from __future__ import annotations

import dataclasses
import os

import keras
from keras import layers

from gan.config import ExperimentConfig

NOISE_DIM = 100
IMG = (28, 28, 1)


@dataclasses.dataclass
class Nets:
    generator: keras.Model
    discriminator: keras.Model
    noise_dim: int
    out_range: tuple[float, float]
    d_output: str


def _fast(cfg: ExperimentConfig) -> Nets:
    # TF DCGAN tutorial layout (Dense -> 7x7, two stride-2 transposed convs, tanh), half as wide
    # so that a 2-core CPU runs several steps a second.
    g = keras.Sequential([
        keras.Input((NOISE_DIM,)),
        layers.Dense(7 * 7 * 128, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", activation="tanh"),
    ], name="generator")
    d_layers = [keras.Input(IMG)]
    for filters in (32, 64, 128)[: cfg.discriminator_convs]:
        d_layers += [layers.Conv2D(filters, 5, strides=2, padding="same"), layers.LeakyReLU(0.2),
                     layers.Dropout(cfg.dropout)]
    d = keras.Sequential(d_layers + [layers.Flatten(), layers.Dense(1)], name="discriminator")
    return Nets(g, d, NOISE_DIM, (-1.0, 1.0), "logit")


def _dcgan_by_example(cfg: ExperimentConfig) -> Nets:
    # R. Atienza, "GAN by Example using Keras on Tensorflow Backend" (2017).
    d_layers = [keras.Input(IMG)]
    for filters, stride in list(zip((64, 128, 256, 512), (2, 2, 2, 1)))[: cfg.discriminator_convs]:
        d_layers += [layers.Conv2D(filters, 5, strides=stride, padding="same"), layers.LeakyReLU(0.2),
                     layers.Dropout(cfg.dropout)]
    d = keras.Sequential(d_layers + [layers.Flatten(), layers.Dense(1, activation="sigmoid")],
                         name="discriminator")
    g = keras.Sequential([
        keras.Input((NOISE_DIM,)),
        layers.Dense(7 * 7 * 256), layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Reshape((7, 7, 256)), layers.Dropout(cfg.dropout),
        layers.UpSampling2D(), layers.Conv2DTranspose(128, 5, padding="same"),
        layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.UpSampling2D(), layers.Conv2DTranspose(64, 5, padding="same"),
        layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Conv2DTranspose(32, 5, padding="same"), layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Conv2DTranspose(1, 5, padding="same", activation="sigmoid"),
    ], name="generator")
    return Nets(g, d, NOISE_DIM, (0.0, 1.0), "sigmoid")


def _functional_two_class(cfg: ExperimentConfig) -> Nets:
    # The functional-API Keras GAN with a two-class softmax discriminator.
    z = keras.Input((NOISE_DIM,))
    h = layers.Dense(14 * 14 * 200)(z)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.UpSampling2D()(layers.Reshape((14, 14, 200))(h))
    for filters in (100, 50):
        h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    g = keras.Model(z, layers.Conv2D(1, 1, padding="same", activation="sigmoid")(h), name="generator")
    x = keras.Input(IMG)
    h = x
    for filters in (256, 512):
        h = layers.Dropout(cfg.dropout)(layers.LeakyReLU(0.2)(
            layers.Conv2D(filters, 5, strides=2, padding="same")(h)))
    h = layers.Dropout(cfg.dropout)(layers.LeakyReLU(0.2)(layers.Dense(256)(layers.Flatten()(h))))
    d = keras.Model(x, layers.Dense(2, activation="softmax")(h), name="discriminator")
    return Nets(g, d, NOISE_DIM, (0.0, 1.0), "softmax2")


PRESETS = {"fast": _fast, "dcgan-by-example": _dcgan_by_example,
           "functional-two-class": _functional_two_class}


def build(cfg: ExperimentConfig) -> Nets:
    return PRESETS[cfg.model](cfg)


def summary_text(model: keras.Model) -> str:
    """The summary table (layers, output shapes, parameter counts) as plain text."""
    lines: list[str] = []
    # rich sizes its capture console from COLUMNS (else the terminal), cutting the table at 80.
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "120"
    try:
        model.summary(print_fn=lambda s, *a, **k: lines.append(s), line_length=100)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(lines).rstrip() + "\n"
