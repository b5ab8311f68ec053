"""The output under real validators (W3C Nu for HTML and CSS, feedparser + RFC 4287 for the
feed, the sitemap 0.9 schema), and the build's own link check failing on broken links."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from conftest import ROOT, SITE_TOML, post
from safe_checks import feed_problems, html_problems, java_available, nu_validate, sitemap_problems
from test_safe_hostile import HOSTILE, hostile_files


def test_bundled_and_hostile_sites_pass_the_validators(tmp_path, make_content, run_build, sample_files, capsys):
    from fake_results import fake_all
    from studylog.cli import main
    sites = tmp_path / "sites"
    results = tmp_path / "bundled-results"
    fake_all(ROOT / "content", results)      # stored stand-ins for content/experiments/*
    assert main(["--content", str(ROOT / "content"), "--results", str(results),
                 "--out", str(sites / "bundled"), "-q"]) == 0, capsys.readouterr().err
    code, _, err, _ = run_build(make_content(dict(sample_files, **hostile_files()), site_toml=SITE_TOML.replace(
        'title = "テスト日記"', f"title = {json.dumps(HOSTILE)}")),
        "--base-url", "/", out=sites / "hostile")
    assert code == 0, err
    for name in ("bundled", "hostile"):
        out = sites / name
        assert html_problems(out) == []
        assert feed_problems(out / "feed.xml") == []
        origin = re.search(r"<loc>(https?://[^/]+/[^<]*?)</loc>", (out / "sitemap.xml").read_text()).group(1)
        assert sitemap_problems(out / "sitemap.xml", origin) == []
    if not java_available() and not os.environ.get("STUDYLOG_REQUIRE_JAVA"):
        pytest.skip("no Java runtime: the Nu validator cannot run (CI installs default-jre-headless)")
    r = nu_validate(sites)
    assert r.returncode == 0, r.stdout + r.stderr


def test_broken_markdown_links_fail_the_build_at_their_line(make_content, run_build, sample_files):
    files = dict(sample_files, **{"posts/x.md": post("x", "2017-12-01", """\
        本文。

        [どこにもない見出し](#nowhere) と [別の記事の無い見出し](post:ird#nope)
        [ベースパスの外](/elsewhere/) と [綴り違い](htps://example.com/)
        <a href="../../../../etc/passwd">生の HTML</a>
        """)})
    content = make_content(files)
    code, _, err, out = run_build(content)
    assert code == 1 and not out.exists()
    assert re.search(r"posts/x\.md:7: broken link '#nowhere' .*no element with id 'nowhere'", err)
    assert re.search(r"posts/x\.md:7: broken link '/studylog/posts/ird/#nope' .*no element with id 'nope' on /posts/ird/index\.html", err)
    assert re.search(r"posts/x\.md:8: broken link '/elsewhere/' .*outside the site's base path /studylog/", err)
    assert re.search(r"posts/x\.md:8: broken link 'htps://example.com/' .*unresolved htps: link", err)
    assert re.search(r"posts/x\.md:9: broken link '\.\./\.\./\.\./\.\./etc/passwd'", err)
    assert "5 error(s)" in err


def test_broken_template_links_are_reported_at_the_output_page(make_content, run_build, sample_files):
    base = (ROOT / "templates" / "page.html").read_text(encoding="utf-8")
    broken = base.replace("{% block main %}", '{% block main %}<img src="missing.png" srcset="a.png 1x, '
                          '{{ url(\'home\') }}nothere.png 2x" alt=""><a href="#nope">x</a>', 1)
    assert broken != base
    content = make_content(dict(sample_files, **{"templates/page.html": broken}))
    code, _, err, out = run_build(content)
    assert code == 1 and not out.exists()
    page = re.escape(str(out / "about" / "index.html"))
    assert re.search(page + r":\d+: broken link 'missing\.png': no such file in the site: /about/missing\.png", err)
    assert re.search(page + r":\d+: broken link 'a\.png'", err)
    assert re.search(page + r":\d+: broken link '/studylog/nothere\.png'", err)
    assert re.search(page + r":\d+: broken link '#nope'", err)


def test_link_check_reads_feed_and_sitemap(tmp_path, make_content, sample_files):
    from studylog.build import BuildOptions, build
    from studylog.linkcheck import check
    content = make_content(sample_files)
    from fake_results import fake_all
    fake_all(content, content.parent / "results")
    out = tmp_path / "_site"
    site = build(BuildOptions(content=content, out=out, quiet=True)).site
    assert check(out, site) == []
    shutil.rmtree(out / "posts" / "ird")           # the feed, the sitemap and other pages link it
    errors = [str(e) for e in check(out, site)]
    assert any(re.search(r"feed\.xml:\d+: broken link 'https://example\.github\.io/studylog/posts/ird/'", e) for e in errors)
    assert any(re.search(r"sitemap\.xml:\d+: broken link 'https://example\.github\.io/studylog/posts/ird/'", e) for e in errors)
    assert any("index.html" in e and "/posts/ird/" in e for e in errors)


def test_link_check_cache_never_hides_a_changed_page(tmp_path, make_content, sample_files):
    """The cache remembers a page by (inode, size, mtime): unchanged (hard-linked) pages are not
    read again, and any rewrite, in place or as a new file, is read again."""
    import os
    from fake_results import fake_all
    from studylog.build import BuildOptions, build
    from studylog.linkcheck import check
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    out, cache = tmp_path / "_site", tmp_path / "lc.pickle"
    site = build(BuildOptions(content=content, out=out, quiet=True)).site
    assert check(out, site, cache=cache) == [] and cache.is_file()
    page = out / "about" / "index.html"
    text = page.read_text("utf-8")
    page.write_text(text.replace("</main>", '<a href="#gone">x</a></main>', 1), "utf-8")   # in place
    assert [e.message for e in check(out, site, cache=cache)] == ["broken link '#gone': no element with id 'gone' on this page"]
    page.unlink()
    page.write_text(text.replace("</main>", '<a href="/studylog/nope/">y</a></main>', 1), "utf-8")  # a new file
    assert ["/studylog/nope/" in e.message for e in check(out, site, cache=cache)] == [True]
    page.unlink()
    page.write_text(text, "utf-8")
    assert check(out, site, cache=cache) == []
    twin = out / "twin.html"                     # a hard link shares the cached scan, named anew
    os.link(page, twin)
    assert check(out, site, cache=cache) == []
    cache.write_bytes(b"garbage")                # a damaged cache is only a miss
    assert check(out, site, cache=cache) == []


def test_link_check_rechecks_unchanged_pages_whose_targets_changed(tmp_path, make_content, sample_files):
    """An unchanged page whose links were all good is not resolved again, unless a page or file
    it points at changed: a removed target, or a target that lost the id a link names."""
    import shutil
    from fake_results import fake_all
    from studylog.build import BuildOptions, build
    from studylog.linkcheck import check
    content = make_content(sample_files)
    fake_all(content, content.parent / "results")
    out, cache = tmp_path / "_site", tmp_path / "lc.pickle"
    site = build(BuildOptions(content=content, out=out, quiet=True, search=False)).site
    about = out / "about" / "index.html"
    text = about.read_text("utf-8")
    ird = next(p for p in sorted((out / "posts").glob("*/index.html")) if '<h2 id="' in p.read_text("utf-8"))
    ird_rel = ird.relative_to(out).as_posix()
    anchor = re.search(r'<h2 id="([^"]+)"', ird.read_text("utf-8")).group(1)
    about.write_text(text.replace("</main>", f'<a href="/studylog/{ird_rel[:-10]}#{anchor}">x</a></main>', 1), "utf-8")
    assert check(out, site, cache=cache) == []          # remembered: every link good
    assert check(out, site, cache=cache) == []          # (the about page is now carried over)
    ird.write_text(ird.read_text("utf-8").replace(f'id="{anchor}"', 'id="renamed"'), "utf-8")
    errs = [e.message for e in check(out, site, cache=cache)]
    assert any(f"no element with id '{anchor}'" in m for m in errs), errs
    shutil.rmtree(ird.parent)
    errs = [e.message for e in check(out, site, cache=cache)]
    assert any("no such file in the site" in m and ird_rel[:-10] in m for m in errs), errs
