"""A broken Markdown reference is reported at its own line: each occurrence is matched exactly
(the whole target up to `)` or a title), in order, and code spans and fences do not count."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from conftest import post

# post() writes four front-matter lines: body line n is file line n + 4
TARGET = {"posts/gan-practice-1.md": post("GAN の練習 1", "2017-12-01", "練習。")}
EXP = ("---\ntitle: 1 だけで学習\ndate: 2017-12-15\ntags: [GAN]\nexperiment:\n  model: fast\n"
       "  digits: [1]\n  steps: 100\n  sample_every: 25\n---\n物語。\n")


def body_at(lines: dict[int, str], last: int | None = None) -> str:
    """A body with `lines[n]` at file line n (n >= 5) and filler elsewhere."""
    last = last or max(lines)
    return "\n".join(lines.get(n, "文。" if n % 2 else "") for n in range(5, last + 1)) + "\n"


def errors_for(err: str, name: str = "a.md") -> list[tuple[int, str]]:
    return [(int(m[1]), m[2]) for m in re.finditer(rf"{re.escape(name)}:(\d+): ([^\n]*)", err)]


def build(make_content, run_build, body: str, extra: dict | None = None):
    content = make_content({**TARGET, "posts/a.md": post("a", "2017-12-10", body), **(extra or {})})
    code, _, err, _ = run_build(content)
    return code, err


def test_unknown_post_that_prefixes_an_earlier_valid_link(make_content, run_build):
    body = body_at({5: "[y](post:gan-practice-1)", 11: "[x](post:gan-practice)"})
    code, err = build(make_content, run_build, body)
    assert code == 1
    assert [(l, m.split(";")[0]) for l, m in errors_for(err)] == [
        (11, "unknown post 'gan-practice' in [..](post:gan-practice)")]


def test_empty_exp_target_after_an_earlier_exp_reference(make_content, run_build):
    body = body_at({5: "![g](exp:fast-ones@50)", 9: "[x](exp:)"})
    code, err = build(make_content, run_build, body, {"experiments/fast-ones.md": EXP})
    assert code == 1
    got = errors_for(err)
    assert [l for l, _ in got] == [9], err
    assert "malformed reference exp:" in got[0][1]


def test_same_broken_reference_twice_is_reported_at_each_line(make_content, run_build):
    body = body_at({5: "[y](post:gan-practice-1)", 7: "[x](post:gan-practice)",
                    9: "[y](post:gan-practice-1) and [z](post:gan-practice)", 12: "[x](post:gan-practice)"})
    code, err = build(make_content, run_build, body)
    assert code == 1
    assert [l for l, m in errors_for(err) if "unknown post 'gan-practice'" in m] == [7, 9, 12], err


def test_references_in_code_are_not_occurrences(make_content, run_build):
    body = body_at({
        5: "`[x](post:gan-practice)` is how a link is written",
        7: "```markdown", 8: "[x](post:gan-practice)", 9: "```",
        11: "~~~~", 12: "![x](post:gan-practice) [x](post:gan-practice)", 13: "~~~~",
        15: "- list", 16: "", 17: "    ```", 18: "    [x](post:gan-practice)", 19: "    ```",
        21: "``two `(post:gan-practice)` ticks``",
        23: "[y](post:gan-practice-1) [x](post:gan-practice)",
    })
    code, err = build(make_content, run_build, body)
    assert code == 1
    assert [l for l, _ in errors_for(err)] == [23], err


def test_images_and_links_alike(make_content, run_build):
    body = body_at({5: "[y](post:gan-practice-1)", 7: "![a](post:gan-practice-1)",
                    10: "![b](post:gan-practice)", 13: "[c](post:gan-practice)"})
    code, err = build(make_content, run_build, body)
    assert code == 1
    got = errors_for(err)
    assert [l for l, _ in got] == [7, 10, 13], err
    assert "is a page, not an image" in got[0][1] and "is a page, not an image" in got[1][1]
    assert "unknown post 'gan-practice'" in got[2][1]


def test_local_image_whose_path_prefixes_an_earlier_one(make_content, run_build):
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buf, "PNG")
    body = body_at({5: "![a](../images/fig.png)", 8: "![b](../images/fig)", 10: "[c](../images/fig.png)"})
    code, err = build(make_content, run_build, body, {"images/fig.png": buf.getvalue()})
    assert code == 1
    assert [(l, m.split(" (")[0]) for l, m in errors_for(err)] == [(8, "image '../images/fig' not found")], err


@pytest.mark.parametrize("later", [
    '[x](post:gan-practice "タイトル")',
    "[x](post:gan-practice 'タイトル')",
    "[x](<post:gan-practice>)",
    "[x]( post:gan-practice )",
])
def test_title_angle_brackets_and_spaces(make_content, run_build, later):
    body = body_at({5: '[y](post:gan-practice-1 "タイトル")', 7: "[y](<post:gan-practice-1>)", 11: later})
    code, err = build(make_content, run_build, body)
    assert code == 1
    assert [l for l, _ in errors_for(err)] == [11], err


def test_backslash_escape_in_target(make_content, run_build):
    body = body_at({5: "[y](post:gan-practice-1)", 8: "[x](post:gan\\_practice)"})
    code, err = build(make_content, run_build, body)
    assert code == 1
    got = errors_for(err)
    assert [l for l, _ in got] == [8], err
    assert "unknown post" in got[0][1]


def test_reference_definition_is_its_line(make_content, run_build):
    body = body_at({5: "[y](post:gan-practice-1)", 7: "[x][r] と [z][r]", 10: "[r]: post:gan-practice"})
    code, err = build(make_content, run_build, body)
    assert code == 1
    # both uses give the same message at the same line: reported once
    assert [l for l, _ in errors_for(err)] == [10], err


def test_valid_references_still_resolve(make_content, run_build):
    body = body_at({5: "[y](post:gan-practice-1) ![g](exp:fast-ones@50)", 7: "`(post:gan-practice)`"})
    code, err = build(make_content, run_build, body, {"experiments/fast-ones.md": EXP})
    assert code == 0, err


def test_a_backslash_escaped_target_resolves_and_is_named_as_written(make_content, run_build):
    # the handler got Markdown's internal placeholders: an existing post was "unknown"
    body = body_at({5: "[y](post:gan\\-practice\\-1)", 8: "[x](post:gan\\_practice)"})
    code, err = build(make_content, run_build, body)
    assert code == 1
    got = errors_for(err)
    assert [l for l, _ in got] == [8], err
    assert "unknown post 'gan_practice'" in got[0][1], got


PIECES = ["post:x", "post:xy", "post\\:x", "[a](", "](", "[d]: ", "[e]:", "<", ">", ")", "(", " ", "\n", "\t",
          "\u3000", '"t"', "'t'", "(t)", "文", "x", "> ", "]", "\\"]


LINKS = ["[a](post:x)", "[a]( <post:x> 't')", "[a](post:x \"t\" )", "[a](\n post:x)", "[a](post:xy)", "[a](post\\:x)",
         "\n[d]: post:x\n", "\n > [d]:\t<post:x>\n", "\n[d]: post:x)\n", "[d]: post:x"]


@given(st.lists(st.one_of(st.sampled_from(LINKS), st.sampled_from(PIECES)), max_size=30))
@settings(max_examples=300, deadline=None)
def test_find_ref_agrees_with_the_reference_patterns(pieces):
    """The fast search (literal occurrences, patterns compiled once) answers exactly as the
    patterns _ref_patterns compiles for the target, from every start."""
    from studylog.mdrefs import _ref_patterns, find_ref
    body = "".join(pieces)
    for kind, pattern in _ref_patterns("post:x"):
        for start in range(len(body) + 1):
            m = pattern.search(body, start)
            assert find_ref(body, "post:x", kind, start) == ((m.start("target"), m.end()) if m else None)
