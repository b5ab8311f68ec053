"""The step slider in a real browser: Debian's Chromium driven by Playwright, keyboard only."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from test_experiment_pages import EXP, EXP_ALL  # noqa: F401  (same fixture experiments)
from fake_results import fake_all

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
if not shutil.which("chromium"):
    pytest.fail("Debian's chromium is required (.ci/run installs it)", pytrace=False)


@pytest.fixture
def served_site(make_content, run_build, tmp_path):
    content = make_content({"experiments/ones.md": EXP})
    fake_all(content, tmp_path / "results")
    root = tmp_path / "www"
    code, _, err, _ = run_build(content, out=root / "studylog")   # base path /studylog/ from site.toml
    assert code == 0, err
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/studylog/"
    server.shutdown()


def test_slider_moves_with_keyboard(served_site):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(served_site + "experiments/ones/")
        viewer = page.locator(".slider-viewer")
        assert viewer.is_visible() and not page.locator(".slider-list").is_visible()

        def state():
            return (page.locator(".slider-viewer output").inner_text(),
                    page.locator(".slider-viewer img").get_attribute("src").rsplit("/", 1)[1],
                    page.locator(".chart .step-marker").first.get_attribute("x1"))

        out0, src0, x0 = state()
        assert (out0, src0) == ("100", "step-000100.png")
        page.focus("#step-range")
        page.keyboard.press("ArrowLeft")
        out1, src1, x1 = state()
        assert (out1, src1) == ("75", "step-000075.png") and float(x1) < float(x0)
        page.keyboard.press("Home")
        assert state()[:2] == ("25", "step-000025.png")
        page.keyboard.press("End")
        assert state()[:2] == ("100", "step-000100.png")
        assert page.evaluate("document.querySelector('.slider-viewer img').complete && "
                             "document.querySelector('.slider-viewer img').naturalWidth") == 356
        browser.close()


def test_step_links_open_the_slider_at_that_step(served_site):
    """exp:NAME@STEP links land on #step-STEP; the slider (which hides the list holding that id)
    opens there, and a later hash change moves it."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(served_site + "experiments/ones/#step-50")
        assert page.locator(".slider-viewer output").inner_text() == "50"
        assert page.locator("#step-range").input_value() == "50"
        assert page.locator(".slider-viewer img").get_attribute("src").endswith("step-000050.png")
        page.evaluate("location.hash = '#step-75'")
        page.wait_for_function("document.querySelector('.slider-viewer output').textContent === '75'")
        other = browser.new_page()
        other.goto(served_site + "experiments/ones/#step-33")    # not a snapshot: the final step
        assert other.locator(".slider-viewer output").inner_text() == "100"
        browser.close()
