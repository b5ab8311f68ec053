"""`python build.py serve`: a real server on a free port, edits rebuilt, errors shown, traversal refused."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest

from conftest import ROOT, post

from studylog.serve import safe_path


class Server:
    def __init__(self, content, *args):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--port", "0",
                                      "--content", str(content), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     cwd=content.parent)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60):
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.lines))
        m = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", "".join(self.lines))
        self.port, self.prefix = int(m.group(1)), m.group(2)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("serving "):
                self.ready.set()

    def get(self, path, raw=False):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path if raw else quote(path, safe="/%?=&#"))
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        c.close()
        return r.status, body, r

    def status(self):
        return json.loads(self.get(self.prefix + "__studylog__/status")[1])

    def wait_version(self, old, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            s = self.status()
            if s["version"] != old:
                return s
            time.sleep(0.1)
        raise AssertionError("no rebuild:\n" + "".join(self.lines))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def served(make_content):
    servers = []

    def start(files, *args):
        s = Server(make_content(files), *args)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


def test_serve_edit_rebuild_error_and_recover(served, make_content):
    files = {"posts/a.md": post("最初の記事", "2017-12-04", "はじめの本文。\n\n## 読んだ記事\n\n- [A](https://a.example/) — メモ\n")}
    s = served(files)
    content = make_content({})          # same folder (make_content reuses tmp_path/content)
    assert s.prefix == "/studylog/"     # the base path of the test site.toml
    code, body, _ = s.get("/studylog/posts/最初の記事/")
    assert code == 200 and "はじめの本文。" in body
    assert "__studylog__/status" in body                      # the live-reload script
    assert s.get("/", raw=True)[2].getheader("Location") == "/studylog/"
    assert s.get("/studylog/posts/最初の記事")[2].getheader("Location").endswith("/")
    assert s.get("/studylog/no-such-page/")[0] == 404
    v0 = s.status()["version"]

    # an edit is rebuilt and served
    (content / "posts" / "a.md").write_text(post("最初の記事", "2017-12-04", "書き直した本文。\n"), encoding="utf-8")
    st = s.wait_version(v0)
    assert st["errors"] == []
    code, body, _ = s.get("/studylog/posts/最初の記事/")
    assert "書き直した本文。" in body and "はじめの本文。" not in body

    # a broken file: reported in the terminal and on the page; the last good build is served
    (content / "posts" / "b.md").write_text("---\ntitle: 壊れた\ndate: 2017-12-05\n---\n[リンク](post:nope)\n", encoding="utf-8")
    st = s.wait_version(st["version"])
    assert any(re.search(r"b\.md:5: unknown post 'nope'", e) for e in st["errors"]), st
    code, body, _ = s.get("/studylog/posts/最初の記事/")
    assert code == 200 and "書き直した本文。" in body
    assert 'id="studylog-build-error"' in body and "b.md:5: unknown post" in body
    time.sleep(0.3)
    assert s.proc.poll() is None
    assert "b.md:5: unknown post 'nope'" in "".join(s.lines)

    # fixed: the error box goes away
    (content / "posts" / "b.md").write_text(post("二つ目", "2017-12-05", "直した。\n"), encoding="utf-8")
    st = s.wait_version(st["version"])
    assert st["errors"] == []
    code, body, _ = s.get("/studylog/posts/二つ目/")
    assert code == 200 and "直した。" in body and "studylog-build-error" not in body

    # templates are watched too: content/templates/ overrides
    (content / "templates").mkdir()
    (content / "templates" / "404.html").write_text('{% extends "base.html" %}{% block main %}<p>独自の 404</p>{% endblock %}',
                                                     encoding="utf-8")
    s.wait_version(st["version"])
    code, body, _ = s.get("/studylog/nothing-here")
    assert code == 404 and "独自の 404" in body


@pytest.mark.parametrize("path", [
    "/studylog/../../../../etc/passwd",
    "/studylog/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/studylog/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/studylog/posts/..%2f..%2f..%2f..%2fetc/passwd",
    "/studylog/..\\..\\etc\\passwd",
    "/studylog/%00",
    "/etc/passwd",
    "/studylog//etc/passwd",
])
def test_serve_refuses_paths_outside_the_output(served, path):
    s = served({"posts/a.md": post("記事", "2017-12-04")})
    code, body, _ = s.get(path, raw=True)
    assert code in (403, 404)
    assert "root:" not in body


def test_safe_path(tmp_path):
    root = tmp_path / "site"
    (root / "a").mkdir(parents=True)
    (tmp_path / "secret").write_text("x")
    (root / "link").symlink_to(tmp_path / "secret")
    assert safe_path(root, "/p/a/", "/p/") == root / "a"
    for bad in ("/p/../secret", "/p/%2e%2e/secret", "/p/a/%2E%2E/%2E%2E/secret", "/p/link", "/q/a/", "/p/a\\..\\..\\secret"):
        assert safe_path(root, bad, "/p/") is None, bad


def test_open_page_reloads_itself_after_an_edit(served, make_content):
    """In headless Chromium: the served page notices the rebuild and reloads; a broken file
    shows its error on the page."""
    from test_acc_search import CHROMIUM, _need
    from pathlib import Path
    _need(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "the playwright package is not installed")
    s = served({"posts/a.md": post("記事", "2017-12-04", "最初の版。\n")})
    content = make_content({})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{s.port}/studylog/posts/%E8%A8%98%E4%BA%8B/")
            assert "最初の版。" in page.inner_text("main")
            (content / "posts" / "a.md").write_text(post("記事", "2017-12-04", "二番目の版。\n"), encoding="utf-8")
            page.wait_for_function("document.querySelector('main').innerText.includes('二番目の版。')", timeout=30000)
            (content / "posts" / "a.md").write_text(post("記事", "2017-12-04", "[x](post:nope)\n"), encoding="utf-8")
            page.wait_for_selector("#studylog-build-error", timeout=30000)
            assert "a.md:5: unknown post" in page.inner_text("#studylog-build-error")
            assert "二番目の版。" in page.inner_text("main")       # the last good build stays
        finally:
            browser.close()


# --- a serve that cannot start: a usage error at once, nothing served, no temp folder left ---

def _serve_fails(content, tmp_path, *args, timeout=30):
    """Run `build.py serve` with its own TMPDIR; it must end by itself (not serve)."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=str(tmp))
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "serve", "--content", str(content), *args],
                       capture_output=True, text=True, timeout=timeout, cwd=content.parent, env=env)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "serving " not in r.stdout
    assert list(tmp.glob("studylog-serve-*")) == []        # every exit path removes it
    return r


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_serve_port_out_of_range_is_a_usage_error(make_content, tmp_path, port):
    r = _serve_fails(make_content({"posts/a.md": post("記事", "2017-12-04")}), tmp_path, "--port", port)
    assert r.returncode == 2
    assert "build.py serve: error:" in r.stderr and "65535" in r.stderr


def test_serve_port_in_use_exits_2_and_leaves_no_temp_folder(make_content, tmp_path):
    import socket
    content = make_content({"posts/a.md": post("記事", "2017-12-04")})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = _serve_fails(content, tmp_path, "--port", str(busy.getsockname()[1]))
    assert r.returncode == 2 and "build.py serve: error: cannot listen on" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--jobs", "x"], "--jobs"),
    (["--jobs", "0"], "--jobs must be >= 1"),
    (["--base-url", "javascript:alert(1)"], "--base-url"),
])
def test_serve_bad_build_option_exits_2_before_serving(make_content, tmp_path, args, message):
    r = _serve_fails(make_content({"posts/a.md": post("記事", "2017-12-04")}), tmp_path, "--port", "0", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "error:" in r.stderr


def test_a_rebuild_shows_its_warnings(served, make_content, monkeypatch, tmp_path):
    """A good rebuild printed only 'rebuilt in', hiding that Pagefind failed (review)."""
    from studylog import search
    if not search.available():
        pytest.skip("pagefind is not installed")
    fake = tmp_path / "pagefind-broken"
    fake.write_text("#!/bin/sh\necho 'Error: out of cheese' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake))
    monkeypatch.setenv("STUDYLOG_SEARCH", "1")
    s = served({"posts/a.md": post("記事", "2017-12-04", "本文。\n")}, "--search")
    warning = "warning: search index not built: pagefind failed: Error: out of cheese"
    assert "".join(s.lines).count(warning) == 1
    v0 = s.status()["version"]
    (make_content({}) / "posts" / "a.md").write_text(post("記事", "2017-12-04", "直した。\n"), encoding="utf-8")
    st = s.wait_version(v0)
    assert st["errors"] == []
    time.sleep(0.2)
    out = "".join(s.lines)
    assert out.count(warning) == 2 and out.rindex(warning) < out.rindex("rebuilt in"), out
