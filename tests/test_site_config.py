"""site.toml settings checked at their line: nav targets, [lists] names, integer settings,
base_url path segments, cname."""
from __future__ import annotations

import re

import pytest

from conftest import SITE_TOML, post

POSTS = {"posts/a.md": post("記事", "2017-12-04", slug="a-post"), "pages/about.md": "---\ntitle: について\n---\n本文\n"}


# --- nav: every target must name something the site has ---

def test_bad_nav_targets_are_errors_at_their_line(make_content, run_build):
    toml = SITE_TOML + ('nav = { "ホーム" = "home", "壊れ" = "page:nope", "p" = "post:nope", '
                        '"l" = "list:nope", "e" = "", "rel" = "about/" }\n')
    code, _, err, out = run_build(make_content(POSTS, toml))
    assert code == 1 and not out.exists(), err
    for label, target in [("壊れ", "page:nope"), ("p", "post:nope"), ("l", "list:nope"), ("e", ""), ("rel", "about/")]:
        assert re.search(rf"site\.toml:6: nav {re.escape(label)} = {re.escape(repr(target))}: ", err), err
    assert "site.toml:6: nav ホーム" not in err
    # what is valid is listed
    assert "home, archive, tags, weeks, experiments, papers, search, list:SLUG, page:NAME, post:NAME" in err
    assert "list:reading" in err        # the configured lists are named


def test_nav_table_errors_at_the_entry_line(make_content, run_build):
    toml = SITE_TOML + '\n[lists]\n"読んだ記事" = "reading"\n\n[nav]\n"読んだ記事" = "list:reading"\n"ほか" = "list:events"\n'
    code, _, err, _ = run_build(make_content(POSTS, toml))
    assert code == 1
    assert "site.toml:12: nav ほか = 'list:events'" in err, err
    assert err.count(": nav ") == 1, err


def test_nav_array_of_tables_errors_at_the_label_line(make_content, run_build):
    toml = SITE_TOML + '\n[[nav]]\nlabel = "ホーム"\nurl = "home"\n\n[[nav]]\nlabel = "どこか"\nurl = "page:missing"\n'
    code, _, err, _ = run_build(make_content(POSTS, toml))
    assert code == 1
    assert "site.toml:12: nav どこか = 'page:missing'" in err, err


def test_good_nav_targets_build_and_show(make_content, run_build):
    toml = SITE_TOML + ('nav = { "ホーム" = "home", "記事" = "post:a-post", "について" = "page:about", '
                        '"読" = "list:reading", "論" = "papers", "検" = "search", "週" = "weeks", '
                        '"外" = "https://example.com/x" }\n')
    code, _, err, out = run_build(make_content(POSTS, toml))
    assert code == 0, err
    html = (out / "index.html").read_text("utf-8")
    nav = html[html.index('class="site-nav"'):html.index("</nav>", html.index('class="site-nav"'))]
    for label in ("ホーム", "記事", "について", "読", "論", "検", "週", "外"):
        assert f">{label}<" in nav, nav


def test_default_nav_needs_no_about_page(make_content, run_build):
    # the built-in nav names page:about; a site without one still builds (the item is left out)
    code, _, err, _ = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")}))
    assert code == 0, err


def test_nav_to_a_draft_is_an_error(make_content, run_build, tmp_path):
    files = dict(POSTS, **{"pages/wip.md": "---\ntitle: 書きかけ\ndraft: true\n---\n本文\n"})
    toml = SITE_TOML + 'nav = { "ホーム" = "home", "w" = "page:wip" }\n'
    content = make_content(files, toml)
    code, _, err, _ = run_build(content)
    assert code == 1 and "site.toml:6: nav w = 'page:wip': " in err and "draft" in err, err
    code, _, err, _ = run_build(content, "--drafts", out=tmp_path / "d")
    assert code == 0, err


# --- [lists]: a name error is at the heading's line, inline table or not ---

def test_inline_lists_name_error_at_its_line(make_content, run_build):
    toml = SITE_TOML + '\n# lists\nlists = { "読んだ記事" = "reading", "参加したイベント" = "search" }\n'
    code, _, err, _ = run_build(make_content(POSTS, toml))
    assert code == 1
    assert "site.toml:8: list 参加したイベント = 'search'" in err, err


def test_lists_name_error_in_a_table_after_a_nav_of_the_same_label(make_content, run_build):
    # the nav label 読んだ記事 comes first: the error is at the [lists] entry, not the nav's
    toml = SITE_TOML + ('\n[nav]\n"読んだ記事" = "home"\n\n[lists]\n"読んだ記事" = "tags"\n')
    code, _, err, _ = run_build(make_content(POSTS, toml))
    assert code == 1
    assert "site.toml:11: list 読んだ記事 = 'tags'" in err, err


# --- integer settings: true is not 1 ---

@pytest.mark.parametrize("key", ["posts_per_page", "feed_entries"])
@pytest.mark.parametrize("value", ["true", "false"])
def test_bool_is_not_an_integer_setting(make_content, key, value):
    from studylog.config import load_config
    from studylog.errors import ContentError
    with pytest.raises(ContentError) as e:
        load_config(make_content({}, site_toml=f'title = "t"\n{key} = {value}\n'))
    assert [str(x).split(": ", 1)[1] for x in e.value.errors] == [f"{key} must be a positive integer"]
    assert e.value.errors[0].line == 2


# --- base_url: no . or .. path segments, also percent-encoded ---

DOT_BASE_URLS = ["/../x/", "/%2e%2e/", "/a/./b/", "/%2E/", "/x/..", "https://u.github.io/a/../b/",
                 "/a/%2e%2E/", "/.%2e/"]


@pytest.mark.parametrize("bad", DOT_BASE_URLS)
def test_dot_segments_in_base_url_are_refused(make_content, run_build, capsys, bad):
    from studylog.config import base_url_problem
    assert base_url_problem(bad)
    content = make_content({"posts/a.md": post("記事", "2017-12-04")})
    with pytest.raises(SystemExit) as e:
        run_build(content, "--base-url", bad)
    assert e.value.code == 2
    assert "--base-url" in capsys.readouterr().err
    code, _, err, _ = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")},
                                             site_toml=f'title = "t"\n\nbase_url = "{bad}"\n', name="c2"))
    assert code == 1 and re.search(r"site\.toml:3: base_url ", err) and err.count("site.toml:") == 1, err


@pytest.mark.parametrize("good", ["/a.b/", "/.well/", "/x../", "/v1.2/docs/", "https://u.github.io/s.t/"])
def test_dots_inside_a_segment_are_fine(good):
    from studylog.config import base_url_problem
    assert base_url_problem(good) is None


# --- cname: a host name ---

@pytest.mark.parametrize("bad", ["bad domain/x", "https://studylog.example.com", "studylog.example.com/",
                                 "a..b", "-a.example", "a_b.example", "a.example.", "example.com:80", "ドメイン.jp"])
def test_bad_cname_is_an_error_at_its_line(make_content, run_build, bad):
    toml = f'title = "t"\n\ncname = "{bad}"\n'
    code, _, err, out = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")}, site_toml=toml))
    assert code == 1 and not out.exists()
    assert re.search(r"site\.toml:3: cname must be a host name", err), err


@pytest.mark.parametrize("good", ["studylog.example.com", "a-b.example.co.jp", "localhost", "Example.COM", "xn--eckwd4c7c.jp"])
def test_good_cname_is_written(make_content, run_build, good):
    code, _, err, out = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")},
                                               site_toml=f'title = "t"\ncname = "{good}"\n'))
    assert code == 0, err
    assert (out / "CNAME").read_text() == good + "\n"
