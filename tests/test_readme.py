"""README stays true: its example experiment parses, and CI runs its test command."""
import re

import pytest
import yaml

from conftest import ROOT
from gan.config import parse_experiment

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_example_experiment_parses():
    block = re.search(r"```yaml\n---\n(.*?)---\n```", README, re.S).group(1)
    cfg = parse_experiment(yaml.safe_load(block)["experiment"])
    assert (cfg.model, cfg.digits, cfg.steps, cfg.sample_every) == ("fast", (1,), 400, 50)


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^    (pip install .+)$", README.split("## Set up", 1)[1].split("\n## ", 1)[0], re.M)
    assert len(commands) == 2 and commands[0].endswith("python build.py")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()


def _section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert m, title
    return m.group(1)


def test_command_line_synopsis_table_and_help_list_the_same_options():
    from studylog.cli import parser
    section = _section("Command line")
    synopsis = section.split("| option |")[0]
    synopsis = synopsis[:synopsis.index("python build.py new")]
    table = set(re.findall(r"^\| `(-[-\w]+)", section, re.M))
    helped = {o for a in parser()._actions for o in a.option_strings if o.startswith("--") and o != "--help"} | {"-q"}
    helped -= {"--quiet"}
    assert set(re.findall(r"(?<![\w-])(--?[a-z][-\w]*)", synopsis)) == table == helped


def test_jobs_is_described_alike_in_readme_and_help():
    """--jobs sets the worker processes of both rendering passes (render_markdown, render_pages)."""
    from studylog.cli import parser
    row = re.search(r"^\| `--jobs N` \| (.*) \|$", README, re.M).group(1)
    helped = next(a.help for a in parser()._actions if "--jobs" in a.option_strings)
    for text in (row, helped):
        assert "Markdown" in text and "pages" in text, text


def test_new_diary_example_works_on_the_bundled_content(tmp_path, capsys):
    import shutil
    from studylog.scaffold import main as new
    m = re.search(r"^    python build.py new diary --date (\S+)\s+# .*-> content/posts/(\S+)$", README, re.M)
    assert m, "README has no `new diary --date` example"
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content" / "posts", content / "posts")
    shutil.copy(ROOT / "content" / "site.toml", content)
    assert new(["--content", str(content), "diary", "--date", m.group(1)]) == 0, capsys.readouterr().err
    assert (content / "posts" / m.group(2)).is_file()


def test_readme_says_where_serve_listens():
    from studylog.serve import parser
    section = _section("Write: a new diary, a live preview")
    assert "loopback only" not in section
    assert re.search(r"127\.0\.0\.1.{0,40}unless `--host`", section, re.S), section
    assert parser().get_default("host") == "127.0.0.1"


@pytest.mark.parametrize("quiet", [True, False])
def test_quiet_build_waiting_for_the_lock_prints_nothing(tmp_path, capsys, monkeypatch, quiet):
    """README: -q prints errors only, so not "another build ... waiting" (which a plain build prints)."""
    import fcntl
    import threading
    import types
    from conftest import SITE_TOML, post
    from studylog import cli, lock
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "site.toml").write_text(SITE_TOML, "utf-8")
    (content / "posts" / "a.md").write_text(post("記事", "2017-12-04"), "utf-8")
    out = tmp_path / "_site"
    blocked = threading.Event()           # set when the build starts its blocking wait

    def flock(fd, op):
        if op == fcntl.LOCK_EX:
            blocked.set()
        return fcntl.flock(fd, op)
    monkeypatch.setattr(lock, "fcntl", types.SimpleNamespace(
        LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB, LOCK_UN=fcntl.LOCK_UN, flock=flock))
    codes = []
    argv = ["--content", str(content), "--out", str(out), "--no-search"] + (["-q"] if quiet else [])
    with lock.hold(out):                  # "the first build"
        t = threading.Thread(target=lambda: codes.append(cli.main(argv)))
        t.start()
        assert blocked.wait(60)
    t.join(60)
    assert codes == [0]
    err = capsys.readouterr().err
    assert ("another build" in err) is not quiet, err
