"""Everything a run leaves in results/NAME/: grids, CSV, loss chart, animation, summaries, run.json.

Grids and the animation use Pillow (fast, no figure state); only the loss chart uses matplotlib,
on the Agg backend, and its figure is closed at once so memory stays flat over many runs.
The result folder is assembled beside its final place and renamed in, so a reader sees either
the old complete result or the new complete one, never a half-written folder.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

SCALE = 3        # 28 px digits drawn at 84 px: readable on a web page, crisp with nearest-neighbour
GAP = 4          # px between cells
BACKGROUND = 40  # dark grey gaps around white-on-black digits, as MNIST draws them

FILES = {"losses_csv": "losses.csv", "loss_chart": "loss.png", "animation": "animation.gif",
         "summary_generator": "summary_generator.txt",
         "summary_discriminator": "summary_discriminator.txt"}


def sample_name(step: int) -> str:
    return f"samples/step-{step:06d}.png"


def to_uint8(images: np.ndarray, out_range: tuple[float, float]) -> np.ndarray:
    lo, hi = out_range
    a = (np.asarray(images, np.float32).reshape(-1, 28, 28) - lo) / (hi - lo)
    return np.rint(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8)


def grid_image(images: np.ndarray, out_range: tuple[float, float], cols: int = 4) -> Image.Image:
    cells = to_uint8(images, out_range)
    rows = -(-len(cells) // cols)
    cell = 28 * SCALE
    canvas = np.full((GAP + rows * (cell + GAP), GAP + cols * (cell + GAP)), BACKGROUND, np.uint8)
    for i, c in enumerate(cells):
        r, k = divmod(i, cols)
        big = np.kron(c, np.ones((SCALE, SCALE), np.uint8))  # nearest-neighbour upscaling
        y, x = GAP + r * (cell + GAP), GAP + k * (cell + GAP)
        canvas[y:y + cell, x:x + cell] = big
    return Image.fromarray(canvas, mode="L")


def save_grid(path: Path, images: np.ndarray, out_range) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    grid_image(images, out_range).save(tmp, format="PNG", optimize=True)
    os.replace(tmp, path)


def write_losses_csv(path: Path, records) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["step", "d_loss", "d_acc", "g_loss", "g_acc"])
        for step, *vals in records:
            w.writerow([step] + [f"{v:.6g}" for v in vals])


def write_loss_chart(path: Path, records, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.asarray(records, np.float64).reshape(-1, 5)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, dpi=100)
    try:
        ax1.plot(a[:, 0], a[:, 1], label="D loss", lw=1)
        ax1.plot(a[:, 0], a[:, 3], label="G loss", lw=1)
        ax1.set_ylabel("loss")
        ax1.legend(loc="upper right")
        ax1.set_title(title)
        ax2.plot(a[:, 0], a[:, 2], label="D accuracy", lw=1)
        ax2.plot(a[:, 0], a[:, 4], label="G accuracy (fakes called real)", lw=1)
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("accuracy")
        ax2.set_xlabel("step")
        ax2.legend(loc="upper right")
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)


def write_animation(path: Path, frames: list[Path]) -> None:
    # 32 grey levels: indistinguishable in a moving preview, and LZW packs it to half the size.
    levels = [min(255, round(v * 31 / 255) * 255 // 31) for v in range(256)]
    images = [Image.open(f).convert("L").point(levels) for f in frames]
    if not images:
        return
    durations = [400] * (len(images) - 1) + [1500]  # linger on the final grid
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=durations,
                   loop=0, optimize=False)
    for im in images:
        im.close()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE) (Linux >= 3.15); False when
    the OS or file system cannot."""
    import ctypes
    import ctypes.util
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0   # AT_FDCWD, RENAME_EXCHANGE


def publish(tmp: Path, final: Path) -> None:
    """Swap a complete result folder into place. Readers (and a build killed at any moment) see
    the old result or the new one: one atomic exchange where the OS has it; else old moved
    aside, new renamed in, and the old put back if that fails."""
    if not final.exists():
        os.replace(tmp, final)
        return
    if _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)       # `tmp` now holds the old result
        return
    old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
    os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_result(final: Path, *, run: dict, records, sample_dir: Path, summaries: dict,
                 quality_rows=None) -> Path:
    """Assemble results/NAME in a temp folder beside it, then rename it into place."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".tmp-{final.name}-*"):  # left by a killed earlier run
        if len(stale.name) == len(final.name) + 14:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f".tmp-{final.name}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        (tmp / "samples").mkdir()
        frames = []
        for s in run["samples"]:
            src = sample_dir / Path(s["file"]).name
            shutil.copyfile(src, tmp / s["file"])
            frames.append(tmp / s["file"])
        write_losses_csv(tmp / FILES["losses_csv"], records)
        if records:
            write_loss_chart(tmp / FILES["loss_chart"], records, run["name"])
        write_animation(tmp / FILES["animation"], frames)
        for which in ("generator", "discriminator"):
            (tmp / FILES[f"summary_{which}"]).write_text(summaries[which], encoding="utf-8")
        if quality_rows is not None:
            from gan.metrics import write_quality_csv
            write_quality_csv(tmp / run["quality"]["csv"], quality_rows)
        run = dict(run, files={k: v for k, v in FILES.items() if (tmp / v).exists()})
        (tmp / "run.json").write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
