"""Bad experiment input is `path:line: message` and exit 1, never a traceback (no training here)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import post
from fake_results import write_fake_result
from gan.data import write_idx

EXP = """---
title: IDX で学習
date: 2017-12-15
experiment:
  steps: 20
  dataset:
    idx:
      images: {images}
      labels: {labels}
---
物語。
"""
IMAGES_LINE, LABELS_LINE = 8, 9


def idx_pair(folder):
    """A tiny valid IDX pair (4 images of digit 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "imgs.idx", np.zeros((4, 28, 28), np.uint8))
    write_idx(folder / "labels.idx", np.ones(4, np.uint8))
    return folder / "imgs.idx", folder / "labels.idx"


def errors_of(err: str) -> list[tuple[str, int, str]]:
    return [(m[1], int(m[2]), m[3]) for m in re.finditer(r"^(\S+?):(\d+): (.*)$", err, re.M)]


def test_unreadable_dataset_files_are_errors_at_their_lines(make_content, run_build):
    # the reviewer's case: one path escapes the content folder, the other does not exist
    content = make_content({"experiments/idx.md": EXP.format(images="../../../../etc/passwd", labels="nope.idx")})
    code, _, err, out = run_build(content, "--frozen", fake_results=False)
    assert code == 1 and "Traceback" not in err
    got = {line: msg for path, line, msg in errors_of(err) if path.endswith("experiments/idx.md")}
    assert re.match(r"cannot read dataset file \S*experiments/nope\.idx: No such file or directory", got[LABELS_LINE]), err
    assert "outside the content folder" in got[IMAGES_LINE], err
    assert len(got) == 2, err                      # no --frozen complaint about a result it cannot key
    assert not out.exists()


def test_a_folder_is_not_a_dataset_file(make_content, run_build):
    content = make_content({"experiments/idx.md": EXP.format(images="data", labels="data/labels.idx")})
    idx_pair(content / "experiments" / "data")
    code, _, err, _ = run_build(content, "--frozen", fake_results=False)
    assert code == 1
    assert re.search(rf"experiments/idx\.md:{IMAGES_LINE}: dataset file \S+/data is not a regular file", err), err


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_relative_dataset_paths_stay_inside_the_content_folder(make_content, run_build, tmp_path, how):
    outside_imgs, outside_labels = idx_pair(tmp_path / "elsewhere")
    if how == "dotdot":
        content = make_content({"experiments/idx.md": EXP.format(images="../../elsewhere/imgs.idx",
                                                                  labels="../../elsewhere/labels.idx")})
    else:
        content = make_content({"experiments/idx.md": EXP.format(images="imgs.idx", labels="labels.idx")})
        (content / "experiments" / "imgs.idx").symlink_to(outside_imgs)
        (content / "experiments" / "labels.idx").symlink_to(outside_labels)
    code, _, err, _ = run_build(content, "--frozen", fake_results=False)
    assert code == 1
    got = {line: msg for _, line, msg in errors_of(err)}
    for line in (IMAGES_LINE, LABELS_LINE):
        assert "outside the content folder" in got[line] and str(tmp_path / "elsewhere") in got[line], err


def test_absolute_and_inside_dataset_paths_are_allowed(make_content, run_build, tmp_path):
    # Absolute paths name installed data sets (Debian's /usr/share/datasets/...); relative ones
    # inside the content folder are ordinary.
    imgs, labels = idx_pair(tmp_path / "elsewhere")
    content = make_content({"experiments/abs.md": EXP.format(images=imgs, labels=labels),
                            "experiments/inside.md": EXP.format(images="../data/imgs.idx", labels="../data/labels.idx")})
    idx_pair(content / "data")
    for md in ("abs", "inside"):
        write_fake_result(tmp_path / "results", content / "experiments" / f"{md}.md")
    code, _, err, _ = run_build(content, "--frozen", fake_results=False)
    assert code == 0, err


EXP_ONES = """---
title: 1 だけで学習
date: 2017-12-15
experiment:
  digits: [1]
  steps: 100
  sample_every: 25
---
物語。
"""


@pytest.fixture
def two_exps(make_content, tmp_path):
    def make(body: str):
        content = make_content({"experiments/ones.md": EXP_ONES, "experiments/all.md": EXP_ONES.replace("[1]", "all"),
                                "posts/p.md": post("p", "2017-12-16", "一行目。\n\n" + body + "\n")})
        for md in ("ones", "all"):
            write_fake_result(tmp_path / "results", content / "experiments" / f"{md}.md")
        return content
    return make


@pytest.mark.parametrize("block, message", [
    ("```experiment-card\nname: ones\ncolour: red\n```",
     r"^experiment-card: unknown key 'colour'; known keys: name, step$"),
    ("```experiment-card\nname: ones\nsteps: 100\n```",
     r"^experiment-card: unknown key 'steps' \(did you mean 'step'\?\); known keys: name, step$"),
    ("```experiment-compare\nexperiments: [ones, all]\nstep: [25, 50]\n```",
     r"^experiment-compare: unknown key 'step' \(did you mean 'steps'\?\); known keys: caption, experiments, steps$"),
])
def test_blocks_reject_unknown_keys(two_exps, run_build, block, message):
    code, _, err, out = run_build(two_exps(block), fake_results=False)
    assert code == 1
    errs = errors_of(err)
    assert len(errs) == 1, err
    path, line, msg = errs[0]
    assert path.endswith("posts/p.md") and line == 7, err      # the block's opening fence
    assert re.search(message, msg), msg
    assert not out.exists()


@pytest.mark.parametrize("ref", ["[x](exp:onez)", "```experiment-card\nname: onez\n```",
                                 "```experiment-compare\nexperiments: [all, onez]\n```"])
def test_known_experiments_are_listed_sorted(two_exps, run_build, ref):
    code, _, err, _ = run_build(two_exps(ref), fake_results=False)
    assert code == 1
    msg = errors_of(err)[0][2]
    assert "unknown experiment 'onez'" in msg and "(did you mean ones?)" in msg, msg
    assert msg.endswith("; known experiments: all, ones"), msg     # sorted, not closest first


EXP_LONG = EXP_ONES.replace("steps: 100", "steps: 200")
COMPARE_MISSING = "```experiment-compare\nexperiments: [ones, all]\nsteps: [50, 75, 200]\n```"   # fence at line 7, steps: at 9


@pytest.fixture
def uneven_exps(make_content, tmp_path):
    """`ones` has grids at 25..100 and 150, `all` at 25..200 less 75: steps 75 and 200 are
    missing from one or both."""
    def make(body: str):
        content = make_content({"experiments/ones.md": EXP_LONG, "experiments/all.md": EXP_LONG.replace("[1]", "all"),
                                "posts/p.md": post("p", "2017-12-16", "一行目。\n\n" + body + "\n")})
        write_fake_result(tmp_path / "results", content / "experiments" / "ones.md", steps=[25, 50, 75, 100, 150])
        write_fake_result(tmp_path / "results", content / "experiments" / "all.md",
                          steps=[25, 50, 100, 125, 150, 175, 200])
        return content
    return make


def test_compare_reports_every_missing_step_of_every_experiment(uneven_exps, run_build):
    code, _, err, out = run_build(uneven_exps(COMPARE_MISSING), fake_results=False)
    assert code == 1 and not out.exists()
    msgs = [m for p, _, m in errors_of(err) if p.endswith("posts/p.md")]
    text = "\n".join(msgs)
    assert len(msgs) == 1, err     # one message naming every (experiment, missing step)
    assert text == ("experiment-compare: ones has no sample grid at step 200 (its steps: 25, 50, 75, 100, 150); "
                    "all has no sample grid at step 75 (its steps: 25, 50, 100, 125, 150, 175, 200)"), text


def test_compare_missing_steps_error_carries_the_steps_key_line():
    """The handler names the `steps:` line of the block (ref.lines), else the fence's."""
    from types import SimpleNamespace
    from studylog.errors import RefError
    from studylog.exp_refs import compare_handler
    from studylog.hooks import FenceRef
    views = {n: SimpleNamespace(name=n, reference_steps=[25, 50], snap=lambda s: object() if s in (25, 50) else None,
                                page_href=f"/x/{n}/", doc=SimpleNamespace(title=n)) for n in ("a", "b")}
    handle = compare_handler(views)
    for lines, want in (({("experiments",): 8, ("steps",): 9}, 9), ({}, 7)):
        ref = FenceRef("experiment-compare", "", {"experiments": ["a", "b"], "steps": [25, 75, 100]},
                       lines, None, 7, None)
        with pytest.raises(RefError) as e:
            handle(ref)
        assert getattr(e.value, "line", None) == want
        assert "a has no sample grid at steps 75, 100" in str(e.value) and "b has no sample grid at steps 75, 100" in str(e.value)


def test_compare_missing_steps_error_is_at_the_steps_line(uneven_exps, run_build):
    code, _, err, _ = run_build(uneven_exps(COMPARE_MISSING), fake_results=False)
    assert code == 1
    assert [line for p, line, _ in errors_of(err) if p.endswith("posts/p.md")] == [9], err
