"""Bad and odd input: a clear `path:line: message` or correct output, never a traceback."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from conftest import post
from studylog.content import parse_document
from studylog.slugs import slugify

TZ = ZoneInfo("Asia/Tokyo")


def parse(tmp_path, rel, data):
    root = tmp_path / "c"
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    errors = []
    return parse_document(p, root, TZ, errors), errors


def only_error(errors, line, fragment):
    assert len(errors) == 1, errors
    e = errors[0]
    assert e.line == line and fragment in e.message, e
    assert str(e).endswith(f"a.md:{line}: {e.message}")


def test_empty_file(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "")
    assert doc is None
    only_error(errors, 1, "empty file")


def test_front_matter_not_yaml(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: ok\ndate: [unclosed\n---\nbody\n")
    assert doc is None
    assert len(errors) == 1 and "not valid YAML" in errors[0].message and errors[0].line in (3, 4, 5)


def test_front_matter_not_a_mapping(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\n- a\n- b\n---\nbody\n")
    assert doc is None
    only_error(errors, 2, "must be a mapping")


def test_front_matter_never_closed(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: x\n")
    only_error(errors, 1, "not closed")


@pytest.mark.parametrize("title_line, line", [("", 2), ("title:", 2), ("title: '  '", 2)])
def test_missing_or_empty_title(tmp_path, title_line, line):
    doc, errors = parse(tmp_path, "posts/a.md", f"---\n{title_line}\ndate: 2017-12-04\n---\nbody\n")
    assert doc is None
    assert len(errors) == 1 and "title" in errors[0].message
    assert errors[0].line in (1, line)


def test_title_of_only_symbols_falls_back_to_file_name(tmp_path):
    doc, errors = parse(tmp_path, "posts/2017-12-04-note.md", post("！？…★", "2017-12-04"))
    assert errors == []
    assert doc.title == "！？…★" and doc.slug == "2017-12-04-note"


def test_japanese_slug_keeps_every_kana():
    assert slugify("2017-12-04 週の日記") == "2017-12-04-週の日記"
    assert slugify("ガンダムとパーセプトロン・ゼロ") == "ガンダムとパーセプトロン-ゼロ"
    assert slugify("ｶﾞﾝ") == "ｶﾞﾝ"      # half-width kana unchanged (NFC, not NFKC)
    assert slugify("!!!") == ""


def test_unparseable_date(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: t\ndate: 2017-13-45\n---\nx\n")
    assert doc is None
    only_error(errors, 3, "unparseable date")


@pytest.mark.parametrize("value, expected", [
    ("2017-12-04", dt.datetime(2017, 12, 4, 0, 0, tzinfo=TZ)),
    ("2017-12-04 10:30:00", dt.datetime(2017, 12, 4, 10, 30, tzinfo=TZ)),
    ("2017-12-04T01:30:00Z", dt.datetime(2017, 12, 4, 10, 30, tzinfo=TZ)),
    ("2017-12-03 20:00:00-05:00", dt.datetime(2017, 12, 4, 10, 0, tzinfo=TZ)),
    ("'2017-12-04T10:30'", dt.datetime(2017, 12, 4, 10, 30, tzinfo=TZ)),
])
def test_dates_in_site_timezone(tmp_path, value, expected, monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")   # the machine's TZ must not matter
    doc, errors = parse(tmp_path, "posts/a.md", post("t", value))
    assert errors == []
    assert doc.date == expected and doc.date.tzinfo is not None
    assert (doc.date.year, doc.date.month, doc.date.day) == (expected.year, expected.month, expected.day)


def test_bom_and_crlf_same_as_lf(tmp_path):
    text = post("改行テスト", "2017-12-04", "一行目\n\n## 見出し\n\n- a\n- b\n", tags="[x]")
    plain, e1 = parse(tmp_path, "posts/a.md", text)
    bom, e2 = parse(tmp_path, "posts/b.md", b"\xef\xbb\xbf" + text.encode())
    crlf, e3 = parse(tmp_path, "posts/c.md", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert e1 == e2 == e3 == []
    for d in (bom, crlf):
        assert (d.title, d.date, d.tags, d.body, d.body_line, d.lines) == \
               (plain.title, plain.date, plain.tags, plain.body, plain.body_line, plain.lines)


def test_not_utf8(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", post("日本語", "2017-12-04").encode("shift_jis"))
    assert doc is None
    only_error(errors, 1, "not UTF-8")


def test_line_of_nested_keys(tmp_path):
    text = "---\ntitle: e\ndate: 2017-12-04\nexperiment:\n  model: fast\n  optimizer:\n    generator:\n      lr: 0.1\n---\n"
    doc, errors = parse(tmp_path, "experiments/gan-a.md", text)
    assert errors == [] and doc.kind == "experiment" and doc.slug == "gan-a"
    assert doc.experiment == {"model": "fast", "optimizer": {"generator": {"lr": 0.1}}}
    assert doc.line_of(("experiment",)) == 4
    assert doc.line_of(("experiment", "model")) == 5
    assert doc.line_of(("experiment", "optimizer", "generator", "lr")) == 8
    assert doc.line_of(("experiment", "missing")) == 4   # nearest ancestor


def test_bad_field_types(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: t\ndate: 2017-12-04\ntags: 3\npart: zero\ndraft: maybe\n---\n")
    assert doc is None
    assert sorted(e.line for e in errors) == [4, 5, 6]


def test_date_only_beside_tz_aware_orders(make_content, run_build):
    content = make_content({
        "posts/a.md": post("日付のみ", "2017-12-05"),                     # 00:00 JST
        "posts/b.md": post("時刻つき", "2017-12-04 16:00:00+00:00"),      # 01:00 JST on the 5th
        "posts/c.md": post("前日", "2017-12-04 23:59:00+09:00"),
    })
    code, _, err, out = run_build(content)
    assert code == 0, err
    home = (out / "index.html").read_text()
    order = [home.index(t) for t in ("時刻つき", "日付のみ")]
    assert order == sorted(order)
    assert (out / "page/2/index.html").read_text().count("前日") >= 1


def test_duplicate_slugs_name_both_files(make_content, run_build):
    content = make_content({
        "posts/a.md": post("同じ題", "2017-12-04"),
        "posts/b.md": post("同じ題", "2017-12-05"),
    })
    code, _, err, out = run_build(content)
    assert code == 1
    line = [l for l in err.splitlines() if "also used by" in l]
    assert len(line) == 1 and "a.md" in line[0] and "b.md" in line[0]
    assert not out.exists()


def test_page_slug_reserved_for_generated_page(make_content, run_build):
    content = make_content({"pages/tags.md": "---\ntitle: タグ\n---\nx\n"})
    code, _, err, _ = run_build(content)
    assert code == 1 and "tags.md:1:" in err and "reserved" in err


def test_every_error_is_reported(make_content, run_build):
    content = make_content({
        "posts/a.md": "",
        "posts/b.md": "---\ntitle: b\ndate: nope\n---\n",
        "posts/c.md": post("c", "2017-12-04", "[x](post:nowhere)\n"),
        "posts/d.md": b"---\ntitle: \x93\xfa\n---\n",
    })
    code, _, err, _ = run_build(content)
    assert code == 1
    assert "a.md:1: empty file" in err
    assert "b.md:3: unparseable date" in err
    assert "c.md:5: unknown post 'nowhere'" in err
    assert "d.md:1: not UTF-8" in err


@pytest.mark.parametrize("rel, key, meant", [("posts/a.md", "tagz", "tags"), ("posts/a.md", "titel", "title"),
                                             ("posts/a.md", "sumary", "summary"),
                                             ("experiments/a.md", "experimnt", "experiment")])
def test_misspelt_front_matter_key_is_an_error(tmp_path, rel, key, meant):
    # these were ignored: the tags, or the whole experiment, silently missing from the site
    doc, errors = parse(tmp_path, rel, f"---\ntitle: x\ndate: 2017-12-04\n{key}: [a]\n---\nbody\n")
    assert doc is None
    only_error(errors, 4, f"unknown front matter key {key!r}; did you mean {meant!r}?")


def test_other_front_matter_keys_are_kept_for_templates(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: x\ndate: 2017-12-04\nmood: 晴れ\n---\nbody\n")
    assert errors == [] and doc.meta["mood"] == "晴れ"


@pytest.mark.parametrize("lines, line, key", [
    ("draft: true\ndraft: false", 5, "draft"),            # the post was published, silently
    ("tags: [a]\ntitle2: x\ntags: [b]", 6, "tags"),
    ("experiment: {steps: 10, steps: 20}", 4, "steps"),
])
def test_a_key_given_twice_is_an_error_at_its_second_line(tmp_path, lines, line, key):
    doc, errors = parse(tmp_path, "posts/a.md", f"---\ntitle: x\ndate: 2017-12-04\n{lines}\n---\nbody\n")
    assert doc is None
    assert any(e.line == line and f"{key!r} given twice" in e.message for e in errors), errors


@pytest.mark.parametrize("key", ["DRAFT", "TAGS", "Title"])
def test_known_keys_in_other_case_are_errors(tmp_path, key):
    # DRAFT: true was ignored and the draft went public
    doc, errors = parse(tmp_path, "posts/a.md", f"---\ntitle: x\ndate: 2017-12-04\n{key}: true\n---\nbody\n")
    assert doc is None
    only_error(errors, 4, f"unknown front matter key {key!r}; did you mean {key.lower()!r}?")


@pytest.mark.parametrize("value", ["9999-12-31 23:59 -12:00", "0001-01-01 00:00 +09:00"])
def test_dates_past_the_calendar_edge_are_errors(tmp_path, value):
    doc, errors = parse(tmp_path, "posts/a.md", f"---\ntitle: x\ndate: {value}\n---\nbody\n")
    assert doc is None
    only_error(errors, 3, "out of range")


def test_an_unparseable_updated_is_an_error(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: x\ndate: 2017-12-04\nupdated: 2017-13-01\n---\nbody\n")
    assert doc is None
    only_error(errors, 4, "unparseable date '2017-13-01'")


def test_spellings_of_one_tag_are_one_chip(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: x\ndate: 2017-12-04\ntags: [ＧＡＮ, gan, GAN, 日記]\n---\nbody\n")
    assert errors == [] and doc.tags == ("ＧＡＮ", "日記")


def test_a_tag_of_only_symbols_is_an_error(tmp_path):
    # it vanished: no chip, no page, no message
    doc, errors = parse(tmp_path, "posts/a.md", '---\ntitle: x\ndate: 2017-12-04\ntags: [ok, "?"]\n---\nbody\n')
    assert doc is None
    only_error(errors, 4, "tag '?' has no letters or digits")


def test_an_experiment_mapping_in_a_post_is_an_error(tmp_path):
    doc, errors = parse(tmp_path, "posts/a.md", "---\ntitle: x\ndate: 2017-12-04\nexperiment: {steps: 5}\n---\nbody\n")
    assert doc is None
    only_error(errors, 4, "content/experiments/")
