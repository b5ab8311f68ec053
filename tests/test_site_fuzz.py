"""Any text gives a Document or path:line errors, never a traceback (a first, small net)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st

from studylog.content import parse_document

TZ = ZoneInfo("Asia/Tokyo")
pieces = st.sampled_from(["---\n", "title: ", "date: ", "2017-12-04", "2017-13-01 25:00", "tags: ", "[a, b]",
                          "slug: ", "part: ", "draft: ", "yes", "\n", "  ", ": ", "- ", "{", "}", "'", '"',
                          "!!python/object:os.system", "&a", "*a", "\ufeff", "\r\n", "漢字", "$x_1$", "---"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(pieces, max_size=30).map("".join))
def test_parse_never_raises(tmp_path, text):
    p = tmp_path / "posts" / "a.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    errors = []
    doc = parse_document(p, tmp_path, TZ, errors)
    assert (doc is None) == bool(errors)
    for e in errors:
        assert e.line >= 1 and e.message
