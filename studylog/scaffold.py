"""`python build.py new diary|note|experiment`: start a content file from a template.

    new diary [--date YYYY-MM-DD]     content/posts/YYYY-MM-DD-diary.md, dated the Monday of
                                      that ISO week (default: this week, site timezone)
    new note TITLE [--slug S] [--date D]   content/posts/YYYY-MM-DD-SLUG.md
    new experiment NAME               content/experiments/NAME.md (a commented config)

Never overwrites: an existing file (or a diary for that week under another name) is reported
and the exit status is 1.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

from .slugs import slugify

EXIT_OK, EXIT_EXISTS, EXIT_USAGE = 0, 1, 2
DIARY_SECTIONS = ("読んだ記事", "参加したイベント", "その他", "来週やりたいこと")


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def diary_title(day: dt.date) -> str:
    return f"{monday(day):%Y-%m-%d} 週の日記"


def diary_text(day: dt.date) -> str:
    m = monday(day)
    return f"""---
title: {diary_title(m)}
date: {m:%Y-%m-%d}
tags: [日記]
# summary: 一覧と検索結果に出る一文（書かなければ最初の段落）
---

<!-- 今週の一言。節の見出しは変えないこと: 「読んだ記事」と「参加したイベント」は
     サイトの「読んだ記事」「イベント」のページに週をまたいで集められる。
     一項目は「- [タイトル](URL) — メモ」、リンクがなければ「- 名前 — メモ」。 -->

## {DIARY_SECTIONS[0]}

<!-- - [論文や記事のタイトル](https://arxiv.org/abs/...) — 読んで考えたこと -->

## {DIARY_SECTIONS[1]}

<!-- - 勉強会の名前（場所や形式） — 何を聞いて、何を話したか -->

## {DIARY_SECTIONS[2]}

<!-- - 手を動かしたこと。実験は [名前](exp:NAME)、記事は [タイトル](post:NAME) でリンクできる -->

## {DIARY_SECTIONS[3]}

<!-- - 来週やること -->
"""


def note_text(title: str, day: dt.date) -> str:
    quoted = '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"""---
title: {quoted}
date: {day:%Y-%m-%d}
tags: [論文]
# summary: 一覧と検索結果に出る一文
# 論文のメモなら、次の paper: を書くと「論文」のページに載る（arxiv は引用符で囲む）。
# paper:
#   title: 論文の題名
#   authors: [著者1, 著者2]
#   venue: NIPS 2017
#   year: 2017
#   arxiv: "1711.02827"
---

<!-- 本文。数式は $...$ と $$...$$、他の記事へは [タイトル](post:NAME)。 -->
"""


def experiment_text(name: str, day: dt.date) -> str:
    return f"""---
title: "実験: {name}"
date: {day:%Y-%m-%d}
tags: [GAN, 実験]
# summary: 実験の一覧に出る一文
experiment:
  # プリセット: fast（軽い DCGAN）| dcgan-by-example | functional-two-class
  model: fast
  # データ: mnist-10k（同梱の 1 万枚）| mnist（全体、要ネットワーク）
  #   | {{idx: {{images: PATH, labels: PATH}}}}（IDX ファイル、この .md からの相対パス）
  dataset: mnist-10k
  # 学習に使う数字: all、または [1]、[0, 1] など
  digits: all
  steps: 200
  batch_size: 64
  # 何ステップごとに生成画像の格子を保存するか（最後のステップでも保存する）
  sample_every: 50
  # 以下は省略するとプリセットの値になる。
  # noise: normal               # uniform-signed (-1..1) | uniform (0..1) | normal
  # optimizer:
  #   discriminator: {{name: adam, lr: 0.0002, beta_1: 0.5}}
  #   generator: {{name: adam, lr: 0.0002, beta_1: 0.5}}
  # dropout: 0.3
  # discriminator_convs: 2      # 識別器の畳み込みの層数
  # pretrain_d_steps: 0
  # freeze_discriminator: true  # false にすると生成器の更新で識別器も動く（昔の記事の誤り）
  # seed: 0
  # checkpoint_every: 100
---

<!-- 何を確かめる実験か。結果は本文から ![説明](exp:{name}@50) や ![損失](exp:{name}/loss) で載せられる。 -->
"""


def _today(content: Path) -> dt.date:
    try:
        from .config import load_config
        return dt.datetime.now(load_config(content).tz).date()
    except Exception:  # a broken site.toml must not stop starting a diary
        return dt.date.today()


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}")


def _existing_title(posts: Path, title: str) -> Path | None:
    """A post already titled `title` (the week's diary saved under another file name)."""
    from .content import read_text, split_front_matter
    import yaml
    if not posts.is_dir():
        return None
    for p in sorted(posts.rglob("*.md")):
        try:
            fm, _, _ = split_front_matter(read_text(p))
            meta = yaml.safe_load(fm) if fm else None
        except Exception:
            continue
        if isinstance(meta, dict) and str(meta.get("title", "")).strip() == title:
            return p
    return None


def _create(path: Path, text: str, out=sys.stdout, err=sys.stderr) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as f:   # "x": never overwrite
            f.write(text)
    except FileExistsError:
        print(f"build.py new: {path} already exists; not overwritten", file=err)
        return EXIT_EXISTS
    print(f"created {path}", file=out)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py new", description="Start a content file from a template (never overwrites).")
    p.add_argument("--content", type=Path, default=Path("content"), metavar="DIR", help="content folder (default: content)")
    sub = p.add_subparsers(dest="kind", required=True, metavar="{diary,note,experiment}")
    d = sub.add_parser("diary", help="this week's diary (dated the Monday of the ISO week)")
    d.add_argument("--date", type=_date, help="any day of the week (default: today)")
    n = sub.add_parser("note", help="a note, e.g. a paper note")
    n.add_argument("title")
    n.add_argument("--slug", help="file and URL name (default: from the title)")
    n.add_argument("--date", type=_date, help="default: today")
    e = sub.add_parser("experiment", help="a commented experiment config")
    e.add_argument("name", help="letters, digits and '-' (results/NAME, exp:NAME)")
    e.add_argument("--date", type=_date, help="default: today")
    for sp in (d, n, e):   # also accepted after the kind
        sp.add_argument("--content", type=Path, default=argparse.SUPPRESS, metavar="DIR", help=argparse.SUPPRESS)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    content: Path = args.content
    if not content.is_dir():
        print(f"build.py new: error: content folder not found: {content}", file=sys.stderr)
        return EXIT_USAGE
    day = args.date or _today(content)
    if args.kind == "diary":
        m = monday(day)
        path = content / "posts" / f"{m:%Y-%m-%d}-diary.md"
        other = None if path.exists() else _existing_title(content / "posts", diary_title(m))
        if other is not None:
            print(f"build.py new: the diary for the week of {m} already exists: {other}; not overwritten", file=sys.stderr)
            return EXIT_EXISTS
        return _create(path, diary_text(m))
    if args.kind == "note":
        slug = slugify(args.slug or args.title)
        if not slug:
            print("build.py new: error: the title has no letters or digits; give --slug", file=sys.stderr)
            return EXIT_USAGE
        return _create(content / "posts" / f"{day:%Y-%m-%d}-{slug}.md", note_text(args.title.strip(), day))
    name = args.name
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        print(f"build.py new: error: experiment name {name!r}: use lower-case letters, digits and '-'", file=sys.stderr)
        return EXIT_USAGE
    return _create(content / "experiments" / f"{name}.md", experiment_text(name, day))
