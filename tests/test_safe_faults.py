"""Faults during a build: SIGKILL at random moments and at every kind of write, two builds at
once, disk full and permission errors. After each, the output is exactly the previous site or
exactly the new one, byte for byte, and a normal build then succeeds.
"""
from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SITE_TOML, post, sample_site_files, write_files

KILLS_RANDOM = 10      # kill -9 after a random delay
KILL_POINTS = 8        # kill -9 from inside, at the k-th file written / at the swap


def tree_hash(root: Path) -> dict[str, str]:
    """rel path -> sha256 of every file (and 'dir' for every folder): the whole tree's identity."""
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.") and p.is_dir())


def build_cmd(content: Path, out: Path, *extra: str, quiet: bool = True) -> list[str]:
    return [sys.executable, str(ROOT / "build.py"), "--content", str(content), "--out", str(out),
            *(["-q"] if quiet else []), *extra]


def run_cli(content: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(build_cmd(content, out, *extra), capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """content A (built into `out`, the published site) and content B (the next edit), with the
    byte-exact trees both give (built once per module into its folder; tests copy from there)."""
    from fake_results import fake_all
    root = tmp_path_factory.mktemp("versions")
    a = write_files(root / "a", dict(sample_site_files(), **{"site.toml": SITE_TOML}))
    b = write_files(root / "b", dict(sample_site_files(), **{"site.toml": SITE_TOML}))
    write_files(b, {"posts/new.md": post("新しい記事 <b>&amp;</b>", "2017-12-30", "追加。[戻る](post:ird)\n", tags="[新]"),
                    "posts/old.md": post("古い記事（改題）", "2017-11-01", "書き直した。\n")})
    refs = {}
    fake_all(a, root / "results")        # both versions declare the same experiments
    for name, c in (("a", a), ("b", b)):
        r = run_cli(c, root / f"ref-{name}")
        assert r.returncode == 0, r.stderr
        refs[name] = tree_hash(root / f"ref-{name}")
        refs[f"{name}-tree"] = root / f"ref-{name}"
    assert refs["a"] != refs["b"]
    return a, b, refs


def reset_to(out: Path, tree: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(tree, out)


def test_sigkill_at_random_moments_leaves_old_or_new_site(two_versions, tmp_path):
    a, b, refs = two_versions
    out = tmp_path / "_site"
    times = []
    for _ in range(2):      # the same command over a copy of the old site, as the killed ones run
        reset_to(tmp_path / "timing", refs["a-tree"])
        t0 = time.perf_counter()
        assert run_cli(b, tmp_path / "timing").returncode == 0
        times.append(time.perf_counter() - t0)
    full = max(times)
    rng = random.Random(8)
    seen = {"old": 0, "new": 0}
    for i in range(KILLS_RANDOM):
        reset_to(out, refs["a-tree"])
        # half the kills anywhere, half in the last part (writing and the swap)
        delay = rng.uniform(0.0, full) if i % 2 else rng.uniform(0.5 * full, 1.2 * full)
        p = subprocess.Popen(build_cmd(b, out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        now = tree_hash(out)
        assert now in (refs["a"], refs["b"]), f"kill {i} after {delay:.2f}s left a mixed site"
        seen["old" if now == refs["a"] else "new"] += 1
    print(f"random SIGKILLs: {KILLS_RANDOM} (build takes {full:.2f}s): {seen}")
    r = run_cli(b, out)
    assert r.returncode == 0, r.stderr
    assert tree_hash(out) == refs["b"]
    assert leftovers(out) == []          # temp trees of the killed builds were swept


KILLER = """
import os, signal, sys
sys.path.insert(0, {root!r})
import studylog.write as w
point, k = sys.argv[1], int(sys.argv[2])
count = [0]
def die():
    os.kill(os.getpid(), signal.SIGKILL)
def wrap(fn):
    def inner(*a, **kw):
        count[0] += 1
        if count[0] == k:
            die()
        return fn(*a, **kw)
    return inner
if point == "put":
    w.SiteWriter.put = wrap(w.SiteWriter.put)
    w.SiteWriter.copy = wrap(w.SiteWriter.copy)
elif point == "before-swap":
    w._swap = wrap(w._swap)
elif point == "exchange":      # the swap done, its cleanup not yet
    real = w._exchange
    def ex(a, b):
        ok = real(a, b)
        die()
    w._exchange = ex
elif point == "fallback":      # no renameat2: killed between the two renames
    w._exchange = lambda a, b: False
    real_rename = os.rename
    n = [0]
    def rn(a, b):
        real_rename(a, b)
        n[0] += 1
        if n[0] == k:
            die()
    w.os.rename = rn
from studylog.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("point, k", [("put", 1), ("put", 5), ("put", 17), ("put", 40),
                                      ("before-swap", 1), ("exchange", 1), ("fallback", 1), ("fallback", 2)])
def test_sigkill_at_each_write_point(two_versions, tmp_path, point, k):
    a, b, refs = two_versions
    out = tmp_path / "_site"
    reset_to(out, refs["a-tree"])
    r = subprocess.run([sys.executable, "-c", KILLER.format(root=str(ROOT)), point, str(k),
                        "--content", str(b), "--out", str(out), "-q"], cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    now = tree_hash(out)
    if point == "fallback" and k == 1:
        # the one window renameat2 closes: old moved aside, new not yet in (out is absent);
        # the old site is whole beside it, and the next build first puts it back
        assert now == {} and [tree_hash(p) for p in out.parent.glob("._site.old-*/site")] == [refs["a"]]
        from studylog.lock import sweep_leftovers
        sweep_leftovers(out)
        assert tree_hash(out) == refs["a"] and leftovers(out) == []
    else:
        assert now in (refs["a"], refs["b"])
    if point in ("exchange", "fallback") and k == 2:
        assert now == refs["b"]
    r = run_cli(b, out)
    assert r.returncode == 0, r.stderr
    assert tree_hash(out) == refs["b"] and leftovers(out) == []


def test_second_build_waits_for_the_first(two_versions, tmp_path):
    from studylog.lock import hold
    a, b, refs = two_versions
    out = tmp_path / "_site"
    reset_to(out, refs["a-tree"])
    err = tmp_path / "err.txt"
    with hold(out):                       # "the first build" holds the lock
        with err.open("w") as f:
            # not -q: the waiting line is a progress message, which -q leaves out
            p = subprocess.Popen(build_cmd(b, out, quiet=False), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=f)
        deadline = time.time() + 60
        while "waiting" not in err.read_text() and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert "another build (pid" in err.read_text() and "is writing" in err.read_text()
        time.sleep(0.5)
        assert p.poll() is None and tree_hash(out) == refs["a"]    # nothing written meanwhile
    assert p.wait(timeout=60) == 0
    assert tree_hash(out) == refs["b"]


def test_builds_at_once_never_interleave(two_versions, tmp_path):
    a, b, refs = two_versions
    out = tmp_path / "_site"
    procs = [subprocess.Popen(build_cmd(c, out, quiet=False), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for c in (a, b, a, b)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], results
    assert any("waiting" in e for _, e in results)
    assert tree_hash(out) in (refs["a"], refs["b"])
    assert leftovers(out) == []


def test_lock_without_waiting_says_who_holds_it(tmp_path):
    from studylog.lock import hold
    with hold(tmp_path / "_site"):
        pid = (tmp_path / "._site.lock").read_text().strip()
        assert pid == str(os.getpid())
        r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                            "from studylog.lock import hold\n"
                            "try:\n with hold(sys.argv[2], wait=False): pass\n"
                            "except BlockingIOError as e: print(e)", str(ROOT), str(tmp_path / "_site")],
                           capture_output=True, text=True, timeout=30)
        assert f"another build (pid {pid}) is writing" in r.stdout


def _fail_on(monkeypatch, err: int, what: str):
    """Make the writer's file writes fail like a full disk / a denied write for paths with `what`."""
    from studylog import write
    real_write, real_copy = write._write_new, shutil.copyfile

    def write_new(path, data):
        if what in str(path):
            raise OSError(err, os.strerror(err), str(path))
        return real_write(path, data)

    def copyfile(src, dst, *a, **kw):
        if what in str(dst):
            raise OSError(err, os.strerror(err), str(dst))
        return real_copy(src, dst, *a, **kw)
    monkeypatch.setattr(write, "_write_new", write_new)
    monkeypatch.setattr(shutil, "copyfile", copyfile)


@pytest.mark.parametrize("err, what, shown", [
    (errno.ENOSPC, "/posts/ird/index.html", "No space left on device: {out}/posts/ird/index.html"),
    (errno.ENOSPC, "fig.png", "No space left on device: {out}/assets/images/fig.png"),
    (errno.EACCES, "feed.xml", "Permission denied: {out}/feed.xml"),
    (errno.EDQUOT, "style.css", "Disk quota exceeded: {out}/static/style.css"),
])
def test_write_errors_are_reported_and_keep_the_old_site(two_versions, run_build, tmp_path, monkeypatch, err, what, shown):
    a, b, refs = two_versions
    out = tmp_path / "_site"
    reset_to(out, refs["a-tree"])
    _fail_on(monkeypatch, err, what)
    code, _, stderr, _ = run_build(b, out=out)
    assert code == 1
    assert shown.format(out=out) in stderr and "left unchanged" in stderr
    assert "Traceback" not in stderr
    assert tree_hash(out) == refs["a"] and leftovers(out) == []


def test_unwritable_output_location_is_reported(make_content, run_build, tmp_path):
    content = make_content({"posts/a.md": post("a", "2017-12-01")})
    (tmp_path / "file").write_text("not a folder")
    code, _, err, _ = run_build(content, out=tmp_path / "file" / "_site")
    assert code == 1 and "build.py: error:" in err and str(tmp_path / "file") in err


def _non_loopback_address() -> str | None:
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.254.254.254", 1))    # no packet is sent; the kernel picks the outgoing address
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def test_serve_listens_on_loopback_only_by_default(make_content):
    import socket
    from test_acc_serve import Server
    from studylog.serve import parser
    assert parser().parse_known_args([])[0].host == "127.0.0.1"
    s = Server(make_content({"posts/a.md": post("a", "2017-12-01")}))
    try:
        assert s.get(s.prefix)[0] == 200                     # reachable on loopback
        other = _non_loopback_address()
        if other:                                            # and not on the machine's other address
            with pytest.raises(OSError):
                socket.create_connection((other, s.port), timeout=3).close()
    finally:
        s.stop()


def test_ctrl_c_leaves_old_or_new_site_and_says_so(two_versions, tmp_path):
    a, b, refs = two_versions
    out = tmp_path / "_site"
    rng = random.Random(2)
    codes = []
    for i in range(3):
        reset_to(out, refs["a-tree"])
        p = subprocess.Popen(build_cmd(b, out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.4, 1.0))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        codes.append(p.returncode)
        assert tree_hash(out) in (refs["a"], refs["b"])
        if p.returncode == 130:
            assert "interrupted;" in err and "left unchanged" in err
    print("Ctrl-C exit codes:", codes)      # -2: interrupted while still importing (before main)
    assert run_cli(b, out).returncode == 0 and tree_hash(out) == refs["b"] and leftovers(out) == []


@pytest.mark.parametrize("fail_on", ["step-000002.png", "losses.csv", "summary_discriminator.txt", "run.json", "publish"])
def test_disk_full_while_publishing_a_result_keeps_the_old_one(tmp_path, monkeypatch, fail_on):
    """gan.artifacts.write_result (no TensorFlow needed) hit by ENOSPC at each of its writes:
    results/NAME stays the previous whole result, and nothing half-made is left beside it."""
    import pathlib
    from PIL import Image
    from gan import artifacts
    from test_safe_train_kill import results_whole
    samples = tmp_path / "work" / "samples"
    samples.mkdir(parents=True)
    for s in (1, 2):
        Image.new("L", (28, 28), 9 * s).save(samples / f"step-{s:06d}.png")
    run = {"name": "x", "key": "k", "status": "fresh", "samples": [{"step": s, "file": artifacts.sample_name(s)} for s in (1, 2)]}
    records = [(1, 0.7, 0.5, 0.8, 0.4), (2, 0.6, 0.5, 0.9, 0.4)]
    summaries = {"generator": "G", "discriminator": "D"}
    results = tmp_path / "results"
    artifacts.write_result(results / "x", run=dict(run, key="old"), records=records, sample_dir=samples, summaries=summaries)
    before = tree_hash(results / "x")
    enospc = OSError(errno.ENOSPC, "No space left on device")
    if fail_on == "publish":
        monkeypatch.setattr(artifacts, "publish", lambda tmp, final: (_ for _ in ()).throw(enospc))
    else:
        real_copy, real_write_text, real_open = shutil.copyfile, pathlib.Path.write_text, open

        def copyfile(src, dst, *a, **kw):
            if str(dst).endswith(fail_on):
                raise enospc
            return real_copy(src, dst, *a, **kw)

        def write_text(self, *a, **kw):
            if self.name == fail_on:
                raise enospc
            return real_write_text(self, *a, **kw)

        def open_(file, *a, **kw):
            if str(file).endswith(fail_on):
                raise enospc
            return real_open(file, *a, **kw)
        monkeypatch.setattr(shutil, "copyfile", copyfile)
        monkeypatch.setattr(pathlib.Path, "write_text", write_text)
        monkeypatch.setattr("builtins.open", open_)
    with pytest.raises(OSError):
        artifacts.write_result(results / "x", run=dict(run, key="new"), records=records, sample_dir=samples, summaries=summaries)
    monkeypatch.undo()
    assert tree_hash(results / "x") == before and results_whole(results) == []
    assert sorted(p.name for p in results.iterdir()) == ["x"]


@pytest.mark.parametrize("exchange", [True, False])
def test_replacing_a_result_never_loses_the_old_one(tmp_path, monkeypatch, exchange):
    """gan.artifacts.publish: the new result swaps in atomically; without renameat2, a failed
    second rename puts the old result back."""
    from gan import artifacts
    results = tmp_path / "results"
    old, new = results / "x", results / ".tmp-x-12345678"
    for d, text in ((old, "old"), (new, "new")):
        d.mkdir(parents=True)
        (d / "run.json").write_text(text)
    if not exchange:
        monkeypatch.setattr(artifacts, "_exchange", lambda a, b: False)
        real, calls = os.replace, []

        def flaky(a, b):
            calls.append(a)
            if len(calls) == 2:
                raise OSError(errno.EIO, "Input/output error", str(a))
            return real(a, b)
        monkeypatch.setattr(artifacts.os, "replace", flaky)
        with pytest.raises(OSError):
            artifacts.publish(new, old)
        monkeypatch.undo()
        assert (old / "run.json").read_text() == "old"
        assert sorted(p.name for p in results.iterdir()) == [".tmp-x-12345678", "x"]   # the build sweeps .tmp-*
    else:
        artifacts.publish(new, old)
        assert (old / "run.json").read_text() == "new" and sorted(p.name for p in results.iterdir()) == ["x"]


def test_swap_fallback_failure_puts_the_old_site_back(tmp_path, monkeypatch):
    from studylog import write
    out = tmp_path / "_site"
    write.write_site(out, {"index.html": b"old", ".nojekyll": b""}, {})
    before = tree_hash(out)
    monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    real, calls = os.rename, []

    def flaky(a, b):
        calls.append(a)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", str(a))
        return real(a, b)
    monkeypatch.setattr(write.os, "rename", flaky)
    with pytest.raises(OSError):
        write.write_site(out, {"index.html": b"new", ".nojekyll": b""}, {})
    monkeypatch.undo()
    assert tree_hash(out) == before


@pytest.mark.parametrize("again", ["put", "copy"])
def test_writing_a_file_twice_never_writes_through_a_link_into_the_live_site(tmp_path, again):
    """A fresh build tree hard-links unchanged files from the live site; a file made again
    after that (the search page when Pagefind fails) was written through the link, changing
    the live site although the build then failed (review)."""
    from studylog.write import SiteWriter
    live = tmp_path / "_site"
    live.mkdir()
    (live / ".nojekyll").write_bytes(b"")
    (live / "page.html").write_bytes(b"live page")
    src = tmp_path / "src.html"
    src.write_bytes(b"made again")
    with SiteWriter(live) as w:
        assert not w.in_place
        w.link("page.html", live / "page.html")
        w.put("page.html", b"made again") if again == "put" else w.copy("page.html", src)
        assert (w.tmp / "page.html").read_bytes() == b"made again"
        # leaving without commit(): a failed build
    assert (live / "page.html").read_bytes() == b"live page"
