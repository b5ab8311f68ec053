"""Training throughput: our @tf.function tape step vs the old Keras recipe, side by side; peak RSS.

    python bench/gan_speed.py [--model fast] [--steps 60] [--batches 64 256] [--rss-steps 1000]

Baseline = how the articles trained, run under Keras 3: D.compile(); D.trainable = False;
combined = Sequential([G, D]).compile(); each step G.predict -> D.train_on_batch on
[real; fake] (with trainable toggled on/off around it) -> combined.train_on_batch(noise, ones).
Both sides train the same preset networks on the same data; we time steady state (after warm-up).
Then a full run_experiment of --rss-steps steps, sampling this process's RSS twice a second.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from gan import data  # noqa: E402
from gan.config import parse_experiment  # noqa: E402


def ours(cfg, x, steps, warmup):
    from gan import train
    t = train.Trainer(cfg)
    xs = data.scale(x, t.nets.out_range)
    for it in range(warmup + steps):
        if it == warmup:
            t0 = time.perf_counter()
        vals = t.step(*t.batch(xs, it), True, True)
        [float(v) for v in vals]  # the loop reads the losses every step too
    return steps / (time.perf_counter() - t0)


def baseline(cfg, x, steps, warmup):
    import keras
    from gan import models, train
    keras.utils.set_random_seed(cfg.seed)
    nets = models.build(cfg)
    g, d = nets.generator, nets.discriminator
    from_logits = nets.d_output == "logit"
    if nets.d_output == "softmax2":
        loss = "categorical_crossentropy"
        real_y, fake_y = np.tile([0.0, 1.0], (cfg.batch_size, 1)), np.tile([1.0, 0.0], (cfg.batch_size, 1))
    else:
        loss = keras.losses.BinaryCrossentropy(from_logits=from_logits)
        real_y, fake_y = np.ones((cfg.batch_size, 1)), np.zeros((cfg.batch_size, 1))
    d.compile(optimizer=train.make_optimizer(cfg.optimizer["discriminator"]), loss=loss, metrics=["accuracy"])
    d.trainable = False
    combined = keras.Sequential([g, d])
    combined.compile(optimizer=train.make_optimizer(cfg.optimizer["generator"]), loss=loss, metrics=["accuracy"])
    xs = data.scale(x, nets.out_range)
    rng = np.random.default_rng(0)
    for it in range(warmup + steps):
        if it == warmup:
            t0 = time.perf_counter()
        real = xs[rng.integers(0, len(xs), cfg.batch_size)]
        fake = g.predict(train.noise(cfg.noise, rng, cfg.batch_size, nets.noise_dim), verbose=0)
        d.trainable = True
        d.train_on_batch(np.concatenate([real, fake]), np.concatenate([real_y, fake_y]))
        d.trainable = False
        combined.train_on_batch(train.noise(cfg.noise, rng, cfg.batch_size, nets.noise_dim), real_y)
    return steps / (time.perf_counter() - t0)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_run(model, steps, digits):
    from gan.run import run_experiment
    samples, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            samples.append((time.perf_counter(), rss_mb()))
            stop.wait(0.5)
    th = threading.Thread(target=watch, daemon=True)
    cfg = parse_experiment({"model": model, "digits": digits, "steps": steps, "sample_every": 50})
    with tempfile.TemporaryDirectory() as tmp:
        th.start()
        t0 = time.perf_counter()
        run_experiment("rss", cfg, Path(tmp), quiet=True)
        wall = time.perf_counter() - t0
        stop.set()
        th.join()
    rss = [r for _, r in samples]
    tenths = [rss[min(len(rss) - 1, int(len(rss) * k / 10))] for k in range(1, 11)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{steps}-step {model} run: {wall:.1f} s; peak RSS {peak:.0f} MB (target <= 2048)")
    print("RSS at each tenth of the run (MB): " + " ".join(f"{r:.0f}" for r in tenths))
    print(f"growth from 20% to 100% of the run: {tenths[-1] - tenths[1]:+.0f} MB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="fast")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--rss-steps", type=int, default=1000, help="0 to skip")
    a = ap.parse_args()
    import tensorflow as tf
    import keras
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, model {a.model}")
    x = data.load_raw(parse_experiment({"digits": "all"}))[0]
    print(f"{'batch':>5} {'ours steps/s':>13} {'old-way steps/s':>16} {'ratio':>6}")
    for b in a.batches:
        cfg = parse_experiment({"model": a.model, "batch_size": b})
        o = ours(cfg, x, a.steps, a.warmup)
        base = baseline(cfg, x, a.steps, a.warmup)
        print(f"{b:5d} {o:13.2f} {base:16.2f} {o / base:5.2f}x", flush=True)
    if a.rss_steps:
        rss_run(a.model, a.rss_steps, "all")


if __name__ == "__main__":
    main()
