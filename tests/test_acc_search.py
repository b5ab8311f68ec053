"""Search: Pagefind indexes the built site; a Japanese query in headless Chromium finds the post.

Needs `pagefind[extended]` (requirements.txt), the `playwright` package (requirements-dev.txt)
and Debian's chromium with fonts-noto-cjk (.ci/run installs them). Where they are missing the
browser test is skipped, except under STUDYLOG_REQUIRE_BROWSER=1 (set by .ci/run), where it fails.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = os.environ.get("STUDYLOG_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("STUDYLOG_SCREENSHOTS")   # a folder: save what the browser saw


def _need(ok: bool, why: str):
    if not ok:
        if os.environ.get("STUDYLOG_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def indexed_site(tmp_path_factory):
    from studylog import search
    _need(search.available(), "pagefind is not installed (pip install 'pagefind[extended]')")
    os.environ["STUDYLOG_SEARCH"] = "1"
    try:
        from studylog.build import BuildOptions, build
        from test_acc_accumulate import bundled_copy
        content = bundled_copy(tmp_path_factory.mktemp("content"))
        root = tmp_path_factory.mktemp("served")
        build(BuildOptions(content=content, out=root / "studylog", base_url="/studylog/", quiet=True, frozen=True))
    finally:
        os.environ["STUDYLOG_SEARCH"] = "0"
    return root


def test_index_written_only_for_documents(indexed_site):
    site = indexed_site / "studylog"
    assert (site / "pagefind" / "pagefind.js").is_file()
    assert (site / "pagefind" / "pagefind-ui.js").is_file()
    page = (site / "search" / "index.html").read_text("utf-8")
    assert 'src="/studylog/pagefind/pagefind-ui.js"' in page
    assert "data-pagefind-body" in (site / "posts" / "2017-12-04-週の日記" / "index.html").read_text("utf-8")
    assert "data-pagefind-body" not in (site / "reading" / "index.html").read_text("utf-8")
    from test_site_build import crawl
    assert crawl(site, "/studylog/") == []


def test_without_pagefind_the_search_page_says_unavailable(make_content, run_build):
    from conftest import post
    code, _, err, out = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")}), "--no-search")
    assert code == 0, err
    page = (out / "search" / "index.html").read_text("utf-8")
    assert "検索は利用できません" in page and "pagefind-ui.js" not in page
    assert not (out / "pagefind").exists()


@pytest.fixture(scope="module")
def http_root(indexed_site):
    handler = functools.partial(_QuietHandler, directory=str(indexed_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    _need(Path(CHROMIUM).exists() or shutil.which("chromium") is not None, f"no chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              args=["--no-sandbox"])
        yield b
        b.close()


def _titles(page, selector=".pagefind-ui__result-title") -> list[str]:
    """The result titles once Pagefind's UI has filled them: it first shows a placeholder of
    dots per result while each result's data loads (slow on a busy machine)."""
    page.wait_for_selector(selector, timeout=20000)
    page.wait_for_function(
        """sel => { const ts = [...document.querySelectorAll(sel)].map(t => t.innerText.trim());
                    return ts.length > 0 && ts.every(t => t && !/^[.\\s]+$/.test(t)); }""",
        arg=selector, timeout=20000)
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


@pytest.mark.parametrize("query, expected, shot", [
    ("溶岩", "論文メモ: Inverse Reward Design (NIPS 2017)", "search-lava"),          # only in the IRD note
    ("ジェンセン・シャノン", "2017-12-04 週の日記", "search-js"),                    # only in one diary's reading list
    ("もくもく会", "2017-12-18 週の日記", "search-mokumoku"),                        # inside a sentence, two diaries
])
def test_japanese_query_in_chromium_finds_the_post(http_root, browser, query, expected, shot):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        page.goto(f"{http_root}/studylog/search/")
        page.fill(".pagefind-ui__search-input", query)
        titles = _titles(page)
        assert titles and titles[0].startswith(expected), titles
        if query == "もくもく会":
            assert any(t.startswith("2017-12-04 週の日記") for t in titles), titles
        href = page.locator(".pagefind-ui__result-link").first.get_attribute("href")
        assert href.startswith("/studylog/posts/")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"{shot}.png"), full_page=True)
        page.goto(f"{http_root}{href}")                 # the result opens the post
        assert page.locator("h1").first.inner_text().startswith(expected)
    finally:
        page.close()


def test_phrase_ranks_the_article(http_root, browser):
    """識別器を凍結 is written without spaces; the experiments and the article that discuss it come first."""
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        page.goto(f"{http_root}/studylog/search/?q=" + "識別器を凍結")
        titles = _titles(page, ".pagefind-ui__result > .pagefind-ui__result-inner > .pagefind-ui__result-title")
        assert any(t.startswith("GAN 練習 その1") for t in titles[:3]), titles
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "search-freeze.png"), full_page=True)
    finally:
        page.close()


def test_query_in_the_url(http_root, browser):
    page = browser.new_page()
    try:
        page.goto(f"{http_root}/studylog/search/?q=%E6%BA%B6%E5%B2%A9")      # ?q=溶岩
        assert "Inverse Reward Design" in _titles(page)[0]
    finally:
        page.close()


def test_site_toml_can_turn_search_off(make_content, run_build, monkeypatch):
    from conftest import SITE_TOML, post
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")
    code, _, err, out = run_build(make_content({"posts/a.md": post("記事", "2017-12-04")}, SITE_TOML + "search = false\n"))
    assert code == 0, err
    assert not (out / "pagefind").exists()
    assert "検索は利用できません" in (out / "search" / "index.html").read_text("utf-8")


def test_bad_settings_are_located_errors(make_content, run_build):
    from conftest import SITE_TOML
    code, _, err, _ = run_build(make_content({}, SITE_TOML + 'search = "yes"\nlists = ["読んだ記事"]\n'))
    assert code == 1
    assert "site.toml:6: search must be true or false" in err
    assert 'site.toml:7: lists must be a table of "section heading" = "url-name"' in err


def test_experiment_pages_index_prose_not_data(http_root, browser):
    """Model summaries (box-drawing tables), per-step logs and status badges are data: indexed,
    they filled every excerpt with '━━━' and put '最新' into each experiment's title."""
    page = browser.new_page()
    try:
        page.goto(f"{http_root}/studylog/search/")
        found = page.evaluate("""async () => {
            const pf = await import('/studylog/pagefind/pagefind.js');
            const out = [];
            for (const q of ['識別器', 'generator', 'd_loss']) {
                const r = await pf.search(q);
                for (const x of r.results) out.push(await x.data());
            }
            return out.filter(d => d.url.includes('/experiments/')).map(d => [d.meta.title, d.content]);
        }""")
        assert found, "the experiment pages are indexed"
        for title, content in found:
            assert "━" not in content and "Total params" not in content, title
            assert "最新" not in title and "モード崩壊" not in title, title
    finally:
        page.close()


def test_pagefind_runs_as_its_own_binary(tmp_path, monkeypatch):
    """Not through `python -m pagefind`, which starts a second Python only to exec the binary."""
    from studylog import search
    _need(search.available(), "pagefind is not installed (pip install 'pagefind[extended]')")
    from pagefind.service import get_executable
    monkeypatch.delenv("PAGEFIND_BINARY_PATH", raising=False)
    cmd = search.command(tmp_path)
    assert cmd[0] == str(get_executable()) and Path(cmd[0]).is_file()
    assert cmd[cmd.index("--site") + 1] == str(tmp_path)


def test_a_failing_pagefind_is_a_warning_and_the_site_is_published(make_content, run_build, monkeypatch, tmp_path):
    from conftest import post
    from studylog import search
    _need(search.available(), "pagefind is not installed (pip install 'pagefind[extended]')")
    fake = tmp_path / "pagefind-broken"
    fake.write_text("#!/bin/sh\necho 'Error: out of cheese' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake))   # the package's own override
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")
    content = make_content({"posts/a.md": post("記事", "2017-12-04")})
    code, _, err, out = run_build(content)
    assert code == 0, err
    assert "warning: search index not built: pagefind failed: Error: out of cheese" in err
    assert (out / "posts" / "記事" / "index.html").is_file()
    assert "検索は利用できません" in (out / "search" / "index.html").read_text("utf-8")
    assert not (out / "pagefind").exists()
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")       # Pagefind works again: the next build has search
    code, _, err, out = run_build(content)
    assert code == 0 and "warning" not in err, err
    assert "pagefind-ui.js" in (out / "search" / "index.html").read_text("utf-8")
    assert (out / "pagefind" / "pagefind-ui.js").is_file()


def test_a_failing_pagefind_in_a_failed_build_leaves_the_live_search_page(make_content, run_build, monkeypatch, tmp_path):
    """The search page made again without search must not be written through the hard link
    that the fresh build tree holds to the live page (review)."""
    from conftest import post
    from studylog import search
    _need(search.available(), "pagefind is not installed (pip install 'pagefind[extended]')")
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")
    content = make_content({"posts/a.md": post("記事", "2017-12-04")})
    code, _, err, out = run_build(content)
    assert code == 0, err
    page = out / "search" / "index.html"
    before = (page.read_bytes(), page.stat().st_ino)
    with open(content / "posts" / "a.md", "a", encoding="utf-8") as f:
        f.write("\n[どこにもない](#nowhere)\n")                       # this build will fail
    fake = tmp_path / "pagefind-broken"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake))
    code, _, err, _ = run_build(content)
    assert code == 1 and "#nowhere" in err and "left unchanged" in err
    assert (page.read_bytes(), page.stat().st_ino) == before
    assert (out / "pagefind" / "pagefind-ui.js").is_file()


def test_another_pagefind_indexes_again(make_content, run_build, monkeypatch, tmp_path):
    """The index was reused whatever binary made it: one from another PAGEFIND_BINARY_PATH (or
    an upgrade) stayed, and an edit-free rebuild differed from a clean one (review)."""
    from conftest import post
    from pagefind.service import get_executable
    from studylog import search
    _need(search.available(), "pagefind is not installed (pip install 'pagefind[extended]')")
    monkeypatch.delenv("PAGEFIND_BINARY_PATH", raising=False)
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")
    real = get_executable()
    content = make_content({"posts/a.md": post("記事", "2017-12-04")})
    js = tmp_path / "_site" / "pagefind" / "pagefind.js"
    assert run_build(content)[0] == 0
    wrapper = tmp_path / "pagefind-wrapped"
    wrapper.write_text(f'#!/bin/sh\n"{real}" "$@" && echo "// wrapped" >> "$2/pagefind/pagefind.js"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(wrapper))
    assert run_build(content)[0] == 0
    assert js.read_text().endswith("// wrapped\n")
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    assert run_build(content)[0] == 0
    assert "// wrapped" not in js.read_text()
    run_build(content, "--clean", out=tmp_path / "clean")
    assert js.read_bytes() == (tmp_path / "clean" / "pagefind" / "pagefind.js").read_bytes()


@pytest.mark.parametrize("script, timeout, message", [
    ("exit 0", 30, "pagefind failed: it wrote no pagefind/pagefind.js"),
    ("exit 4", 30, "pagefind failed: exit status 4"),
    ("sleep 5", 0.5, "pagefind did not finish in 0.5 s"),
    ("printf '\\377\\376 bad\\n' >&2; exit 1", 30, "pagefind failed: \ufffd\ufffd bad"),   # not UTF-8 (review)
])
def test_why_pagefind_made_no_index_is_said(tmp_path, monkeypatch, script, timeout, message):
    from studylog import search
    _need(search.available(), "pagefind is not installed (pip install 'pagefind[extended]')")
    fake = tmp_path / "pagefind-fake"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake))
    assert search.index(tmp_path, timeout=timeout) == f"search index not built: {message}"


def test_a_relative_pagefind_path_is_the_file_it_names(tmp_path, monkeypatch):
    """PAGEFIND_BINARY_PATH=./x ran `x` from PATH while the index key stat'ed ./x (review)."""
    from studylog import search
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "./pf-wrap")
    assert search.executable() == tmp_path / "pf-wrap"
    assert search.command(tmp_path)[0] == str(tmp_path / "pf-wrap")
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "")          # set but empty: as if unset, not "." (review)
    if search.available():
        from pagefind_bin_extended import get_executable
        assert search.executable() == get_executable()
    else:
        assert search.executable() is None


def test_no_document_inside_the_search_folder(make_content, run_build):
    """A page with slug pagefind landed inside Pagefind's folder: copied, linked and deleted
    with the index (review)."""
    from conftest import post
    page = "---\ntitle: 検索について\nslug: pagefind\n---\n本文。\n"
    code, _, err, _ = run_build(make_content({"posts/a.md": post("記事", "2017-12-04"), "pages/pf.md": page}))
    assert code == 1
    assert "pages/pf.md:3: output path /pagefind/ is inside /pagefind/, the search index's folder" in err
