"""Shared fixtures: small content folders written into tmp_path, and a build runner."""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Pagefind adds ~2 s to every build; only the search tests turn it on (STUDYLOG_SEARCH=1).
os.environ.setdefault("STUDYLOG_SEARCH", "0")
# Runs that score sample quality share one MNIST classifier (trained once, ~25 s), not one per tmp_path.
os.environ.setdefault("STUDYLOG_CLASSIFIER_DIR", str(ROOT / ".cache" / "classifier"))

SITE_TOML = """\
title = "テスト日記"
author = "テスト"
description = "勉強の記録"
base_url = "https://example.github.io/studylog/"
posts_per_page = 2
"""


def post(title, date, body="本文。", **fields):
    lines = ["---", f"title: {title}", f"date: {date}"]
    for k, v in fields.items():
        lines.append(f"{k}: {v}")
    lines += ["---", textwrap.dedent(body)]
    return "\n".join(lines) + "\n"


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            p.write_bytes(data)
        else:
            p.write_text(data, encoding="utf-8")
    return root


@pytest.fixture
def make_content(tmp_path):
    """make_content({"posts/a.md": "..."}) -> content dir with a site.toml."""
    def make(files: dict[str, str | bytes], site_toml: str | None = SITE_TOML, name="content") -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        if site_toml is not None:
            (root / "site.toml").write_text(site_toml, encoding="utf-8")
        return write_files(root, files)
    return make


@pytest.fixture
def run_build(tmp_path, capsys):
    """run_build(content, *args) -> (exit code, stdout, stderr, out dir)."""
    from studylog.cli import main

    def run(content: Path, *args: str, out: Path | None = None, fake_results: bool = True):
        out = out or tmp_path / "_site"
        if fake_results:   # site tests never train: stored results stand in (tests/fake_results.py)
            from fake_results import fake_all
            fake_all(content, content.parent / "results")
        code = main(["--content", str(content), "--out", str(out), "-q", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err, out
    return run


@pytest.fixture
def sample_files():
    """A small but complete site: diary posts, a paper note with math, a series, a page, an image."""
    return sample_site_files()


def sample_site_files():
    """The files of `sample_files`, for module-scoped fixtures."""
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), "white").save(buf, "PNG")
    return {
        "posts/2017-12-04-diary.md": post("2017-12-04 週の日記", "2017-12-10", """\
            今週は論文を読んだ。$\\theta_1 * \\theta_2$ が大事。[IRD のメモ](post:ird-note)

            ## 読んだ記事

            - [arXiv](https://arxiv.org/abs/1711.02827)

            ## 来週やりたいこと

            ![図](../images/fig.png)
            """, tags="[日記, 強化学習]", series="練習", part=1),
        "posts/2017-12-11-diary.md": post("2017-12-11 週の日記", "2017-12-17 20:00:00+09:00", """\
            二週目。[前の週](post:2017-12-04-diary)
            """, tags="[日記]", series="練習", part=2),
        "posts/ird-note.md": post("Inverse Reward Design を読む", "2017-12-12", """\
            代理報酬 $\\tilde{r}$ と真の報酬 $r^*$。

            $$
            P(\\tilde{w} \\mid w^*) \\propto \\exp(\\beta \\, \\mathbb{E}[w^{*\\top} \\phi(\\xi)])
            $$

            脚注つき[^a]。

            [^a]: NIPS 2017.
            """, tags="[論文, 強化学習]", slug="ird"),
        "posts/old.md": post("古い記事", "2017-11-01", "古い。", tags="[雑記]"),
        "posts/draft.md": post("書きかけ", "2017-12-20", "下書き。", tags="[秘密のタグ]", draft="true"),
        "experiments/undated.md": "---\ntitle: 日付なし\ntags: [GAN]\nexperiment: {steps: 5}\n---\n",
        "pages/about.md": "---\ntitle: このサイトについて\n---\n勉強の記録です。\n",
        "experiments/fast-ones.md": "---\ntitle: 1 だけで学習\ndate: 2017-12-15\ntags: [実験, GAN]\nexperiment:\n  model: fast\n  steps: 50\n---\n物語。\n",
        "images/fig.png": buf.getvalue(),
    }
