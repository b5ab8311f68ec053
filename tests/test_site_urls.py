"""urls.py is the single source of every internal URL; the site works at / and /repo/."""
from __future__ import annotations

import datetime as dt
import re
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


# --- base_url: a path starting with / or an http(s) URL; a path-only override keeps site.toml's host ---

from conftest import post                                  # noqa: E402

BAD_BASE_URLS = ["javascript:alert(1)", "studylog/", "ftp://example.com/x/", "http:///x/", "https:x",
                 "//evil.example/x/", "https://u.github.io/x/?q=1", "/x/#top", "/a b/", "mailto:a@b.c"]
GOOD_BASE_URLS = ["/", "/studylog/", "/studylog", "https://u.github.io/studylog/", "http://localhost:8000/"]


@pytest.mark.parametrize("bad", BAD_BASE_URLS)
def test_bad_base_url_on_the_command_line_is_a_usage_error(make_content, run_build, capsys, bad):
    content = make_content({"posts/a.md": post("記事", "2017-12-04")})
    with pytest.raises(SystemExit) as e:
        run_build(content, "--base-url", bad)
    assert e.value.code == 2
    assert "--base-url" in capsys.readouterr().err


@pytest.mark.parametrize("bad", BAD_BASE_URLS)
def test_bad_base_url_in_site_toml_is_a_content_error_at_its_line(make_content, run_build, bad):
    toml = f'title = "t"\n\nbase_url = "{bad}"\n'
    code, _, err, _ = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")}, site_toml=toml))
    assert code == 1
    assert re.search(r"site\.toml:3: base_url must be", err), err


@pytest.mark.parametrize("good", GOOD_BASE_URLS)
def test_good_base_urls_are_accepted(make_content, good):
    from studylog.config import base_url_problem, load_config
    assert base_url_problem(good) is None
    load_config(make_content({}, site_toml=f'base_url = "{good}"\n'))


@pytest.mark.parametrize("site, override, merged", [
    ("https://example.github.io/studylog/", "/other/", "https://example.github.io/other/"),
    ("https://example.github.io/studylog/", "/", "https://example.github.io/"),
    ("https://example.github.io/studylog/", "https://you.example/x/", "https://you.example/x/"),
    ("http://localhost:8000/a/", "/b/", "http://localhost:8000/b/"),
    ("/studylog/", "/other/", "/other/"),                  # no host in site.toml: as before
    (None, "/other/", "/other/"),
])
def test_path_only_base_url_keeps_the_host_of_site_toml(make_content, site, override, merged):
    from studylog.config import load_config
    toml = f'base_url = "{site}"\n' if site else 'title = "t"\n'
    assert load_config(make_content({}, site_toml=toml), override).base_url == merged


def test_readme_base_url_example_keeps_the_feed_host(make_content, run_build):
    """`--base-url /studylog/` with site.toml's https://example.github.io/...: absolute URLs keep the host."""
    content = make_content({"posts/a.md": post("記事", "2017-12-04")},
                           site_toml='base_url = "https://example.github.io/repo/"\n')
    code, _, err, out = run_build(content, "--base-url", "/studylog/")
    assert code == 0, err
    for name in ("feed.xml", "sitemap.xml", "index.html"):
        text = (out / name).read_text("utf-8")
        assert "https://example.github.io/studylog/" in text, name
        assert "localhost" not in text and "/repo/" not in text, name
