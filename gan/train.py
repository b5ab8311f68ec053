"""The training loop: one @tf.function step with explicit tapes, checkpoints, progress bar.

Why tapes: under Keras 3 a model's `trainable` flag is frozen into its train function at the
first train_on_batch, so the old compile/trainable-toggling recipe works or not by call order
(see DESIGN.md). Here each optimizer is handed exactly the variables it may change.

Why per-step randomness from (seed, iteration): the batch indices and noise of every iteration
are a pure function of the two, so a resumed run draws exactly what an uninterrupted one would.
The only other random state (Keras dropout seed generators) is a model variable and lives in
the checkpoint with the weights, the optimizers and the step counter.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
import keras

from gan import data, models
from gan.config import ExperimentConfig

FIXED_NOISE_STREAM = 2**32 - 1   # rng stream for the progress grid's noise, apart from step streams
GRID_SAMPLES = 16                # 4x4, like the articles


class Interrupted(Exception):
    """Raised by the test hook `crash_after` to simulate a killed run."""


@dataclasses.dataclass
class TrainResult:
    status: str                   # "ok" | "failed"
    error: str | None
    records: list                 # [(step, d_loss, d_acc, g_loss, g_acc), ...]
    samples: list                 # snapshot steps, in order
    steps_done: int
    train_seconds: float          # time inside the loop, summed over resumed sessions
    resumed_from: int | None      # iteration the last session started at, if it resumed
    nets: models.Nets


def noise(kind: str, rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    if kind == "uniform-signed":
        z = rng.uniform(-1.0, 1.0, (n, dim))
    elif kind == "uniform":
        z = rng.uniform(0.0, 1.0, (n, dim))
    else:
        z = rng.standard_normal((n, dim))
    return z.astype(np.float32)


def fixed_noise(cfg: ExperimentConfig, dim: int) -> np.ndarray:
    return noise(cfg.noise, np.random.default_rng([cfg.seed, FIXED_NOISE_STREAM]), GRID_SAMPLES, dim)


def make_optimizer(spec: dict) -> keras.optimizers.Optimizer:
    # Old Keras `decay` meant lr / (1 + decay * iterations): InverseTimeDecay with decay_steps=1.
    lr = spec["lr"]
    if spec.get("decay"):
        lr = keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=spec["decay"])
    if spec["name"] == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr, beta_1=spec.get("beta_1", 0.9))


def _losses(d_output: str):
    """(loss(out, is_real), p_real(out)) for the discriminator's output kind."""
    eps = 1e-7
    if d_output == "logit":
        def loss(out, real):
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=real, logits=out[:, 0]))
        return loss, lambda out: tf.sigmoid(out[:, 0])
    if d_output == "sigmoid":
        def loss(out, real):
            p = tf.clip_by_value(out[:, 0], eps, 1 - eps)
            return -tf.reduce_mean(real * tf.math.log(p) + (1 - real) * tf.math.log(1 - p))
        return loss, lambda out: out[:, 0]

    def loss(out, real):  # softmax2: real = [0, 1], fake = [1, 0]
        p = tf.clip_by_value(out, eps, 1.0)
        return -tf.reduce_mean((1 - real) * tf.math.log(p[:, 0]) + real * tf.math.log(p[:, 1]))
    return loss, lambda out: out[:, 1]


class Trainer:
    """Holds the networks, optimizers and the compiled step of one experiment."""

    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        keras.utils.set_random_seed(cfg.seed)  # initial weights and dropout seeds
        self.nets = models.build(cfg)
        g, d = self.nets.generator, self.nets.discriminator
        self.d_opt = make_optimizer(cfg.optimizer["discriminator"])
        self.g_opt = make_optimizer(cfg.optimizer["generator"])
        # freeze_discriminator=false is the old articles' mistake: the combined (generator) step
        # also moves D, towards calling fakes real.
        self.g_step_vars = list(g.trainable_variables)
        if not cfg.freeze_discriminator:
            self.g_step_vars += list(d.trainable_variables)
        # Build slot variables now so a checkpoint restores into them (no deferred restore).
        self.d_opt.build(d.trainable_variables)
        self.g_opt.build(self.g_step_vars)
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
        self.checkpoint = tf.train.Checkpoint(
            generator=g, discriminator=d, d_optimizer=self.d_opt, g_optimizer=self.g_opt,
            iteration=self.iteration,
            # Explicit lists too: BN statistics and dropout seed-generator state must come back.
            g_state=list(g.variables), d_state=list(d.variables))
        self._loss, self._p_real = _losses(self.nets.d_output)
        self.step = tf.function(self._step)

    def _step(self, real, z_d, z_g, train_d: bool, train_g: bool):
        """One iteration: a D step on [real; fake], then a G step (the articles' order).

        train_d / train_g are Python flags (one trace each): D pre-training runs (True, False);
        tests run (False, True) to check what a generator step alone may change.
        """
        g, d = self.nets.generator, self.nets.discriminator
        zero = tf.constant(0.0)
        d_loss = d_acc = g_loss = g_acc = zero
        if train_d:
            n = tf.shape(real)[0]
            labels = tf.concat([tf.ones([n]), tf.zeros([n])], axis=0)
            with tf.GradientTape() as tape:
                fake = g(z_d, training=True)
                out = d(tf.concat([real, fake], axis=0), training=True)
                d_loss = self._loss(out, labels)
            d_vars = d.trainable_variables
            self.d_opt.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
            hit = tf.equal(tf.cast(self._p_real(out) > 0.5, tf.float32), labels)
            d_acc = tf.reduce_mean(tf.cast(hit, tf.float32))
        if train_g:
            with tf.GradientTape() as tape:
                out = d(g(z_g, training=True), training=True)
                g_loss = self._loss(out, tf.ones([tf.shape(z_g)[0]]))
            # Only G's variables unless freeze_discriminator is false (then D's too).
            grads = tape.gradient(g_loss, self.g_step_vars)
            self.g_opt.apply_gradients(zip(grads, self.g_step_vars))
            g_acc = tf.reduce_mean(tf.cast(self._p_real(out) > 0.5, tf.float32))
        return d_loss, d_acc, g_loss, g_acc

    def batch(self, x: np.ndarray, it: int):
        """Real images and both noise batches of iteration `it`: a pure function of (seed, it)."""
        cfg, dim = self.cfg, self.nets.noise_dim
        rng = np.random.default_rng([cfg.seed, it])
        idx = rng.integers(0, len(x), cfg.batch_size)
        return (x[idx], noise(cfg.noise, rng, cfg.batch_size, dim),
                noise(cfg.noise, rng, cfg.batch_size, dim))

    def generate(self, z: np.ndarray) -> np.ndarray:
        return self.nets.generator(z, training=False).numpy()


def _write_json_atomic(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def train(cfg: ExperimentConfig, raw: np.ndarray, work_dir: Path, *, quiet: bool = False,
          on_snapshot: Callable[[int, np.ndarray, tuple], None] | None = None,
          crash_after: int | None = None) -> TrainResult:
    """Train cfg on raw uint8 images (N, 28, 28), resuming from work_dir's checkpoint if any.

    on_snapshot(step, images, out_range) gets the fixed-noise grid images at each snapshot step.
    crash_after (tests only): raise Interrupted after that many iterations in this session.
    """
    from tqdm.auto import tqdm

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    t = Trainer(cfg)
    x = data.scale(raw, t.nets.out_range)
    manager = tf.train.CheckpointManager(t.checkpoint, str(work_dir / "ckpt"), max_to_keep=2)
    state_path = work_dir / "state.json"
    records, samples, train_seconds, start, resumed = [], [], 0.0, 0, None
    if state_path.exists():
        state = json.loads(state_path.read_text())
        t.checkpoint.restore(state["checkpoint"]).assert_consumed()
        records = [tuple(r) for r in state["records"]]
        samples, train_seconds = state["samples"], state["train_seconds"]
        start = resumed = int(t.iteration.numpy())
    total = cfg.pretrain_d_steps + cfg.steps
    z_fixed = fixed_noise(cfg, t.nets.noise_dim)
    status, error = "ok", None
    bar = tqdm(total=cfg.steps, initial=max(0, start - cfg.pretrain_d_steps), disable=quiet,
               desc=f"{cfg.model}", unit="step", leave=False, dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        for it in range(start, total):
            real, z_d, z_g = t.batch(x, it)
            train_g = it >= cfg.pretrain_d_steps
            vals = [float(v) for v in t.step(real, z_d, z_g, True, train_g)]
            t.iteration.assign(it + 1)
            if not all(math.isfinite(v) for v in vals):
                status = "failed"
                error = f"non-finite loss at iteration {it + 1}: d_loss={vals[0]}, g_loss={vals[2]}"
                break
            if train_g:
                step = it + 1 - cfg.pretrain_d_steps
                records.append((step, *vals))
                bar.update(1)
                bar.set_postfix(d_loss=f"{vals[0]:.3f}", g_loss=f"{vals[2]:.3f}", refresh=False)
                if step % cfg.sample_every == 0 or step == cfg.steps:
                    if on_snapshot:
                        on_snapshot(step, t.generate(z_fixed), t.nets.out_range)
                    samples.append(step)
            done = it + 1
            if done % cfg.checkpoint_every == 0 and done < total:
                path = manager.save(checkpoint_number=done)
                _write_json_atomic(state_path, {
                    "checkpoint": path, "records": records, "samples": samples,
                    "train_seconds": train_seconds + time.perf_counter() - t0})
            if crash_after is not None and it + 1 - start >= crash_after:
                raise Interrupted(f"simulated crash after iteration {it + 1}")
    finally:
        bar.close()
    train_seconds += time.perf_counter() - t0
    steps_done = records[-1][0] if records else 0
    return TrainResult(status, error, records, samples, steps_done, train_seconds, resumed, t.nets)
