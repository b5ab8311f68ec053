"""urls.py is the single source of every internal URL; the site works at / and /repo/."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from studylog.urls import Urls, iso_week_key, output_file


@pytest.mark.parametrize("base, prefix, origin", [
    ("/", "/", "http://localhost"),
    ("/studylog", "/studylog/", "http://localhost"),
    ("studylog", "/studylog/", "http://localhost"),
    ("https://u.github.io/studylog/", "/studylog/", "https://u.github.io"),
    ("https://example.com", "/", "https://example.com"),
])
def test_base_url_forms(base, prefix, origin):
    u = Urls(base)
    assert u.url("home") == prefix
    assert u.abs_url("feed") == origin + prefix + "feed.xml"


def test_every_page_kind():
    u = Urls("/studylog/")
    doc = SimpleNamespace(kind="post", slug="週の日記")
    assert u.doc(doc) == "/studylog/posts/%E9%80%B1%E3%81%AE%E6%97%A5%E8%A8%98/"
    assert u.url("home", page=2) == "/studylog/page/2/"
    assert u.url("page", "about") == "/studylog/about/"
    assert u.url("experiments") == "/studylog/experiments/"
    assert u.url("experiment", "fast-ones") == "/studylog/experiments/fast-ones/"
    assert u.url("archive") == "/studylog/archive/"
    assert u.url("month", "2017-12") == "/studylog/archive/2017/12/"
    assert u.url("weeks") == "/studylog/weeks/"
    assert u.url("week", "2017-W49") == "/studylog/weeks/2017-W49/"
    assert u.url("tags") == "/studylog/tags/"
    assert u.url("tag", "Deep Learning") == "/studylog/tags/deep-learning/"
    assert u.url("series", "GAN 練習") == "/studylog/series/gan-%E7%B7%B4%E7%BF%92/"
    assert u.url("static", "style.css") == "/studylog/static/style.css"
    assert u.url("asset", "images/a b.png") == "/studylog/assets/images/a%20b.png"
    assert u.url("feed") == "/studylog/feed.xml" and u.url("sitemap") == "/studylog/sitemap.xml"
    assert u.url("404") == "/studylog/404.html"


def test_output_files_never_bare_html():
    assert output_file("") == "index.html"
    assert output_file("posts/x/") == "posts/x/index.html"
    assert output_file("feed.xml") == "feed.xml"


def test_iso_week_uses_the_given_aware_date():
    from zoneinfo import ZoneInfo
    # Sunday 2017-12-10 23:30 in Tokyo is still ISO week 49 even though it is Monday in... nowhere earlier
    d = dt.datetime(2017, 12, 10, 23, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert iso_week_key(d) == "2017-W49"
    assert iso_week_key(d + dt.timedelta(hours=1)) == "2017-W50"
