"""The Pages workflow parses, uses the official actions, and runs the commands README shows."""
from __future__ import annotations

import re

import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    if True in data:              # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def code_blocks(section: str) -> list[list[str]]:
    """Indented code blocks (4 spaces) as lists of commands (comments after # dropped)."""
    blocks, cur = [], []
    for line in section.splitlines():
        if line.startswith("    ") and line.strip():
            cur.append(re.sub(r"\s+#\s.*$", "", line[4:]).rstrip())
        elif line.strip() == "" and cur:
            continue
        else:
            if cur:
                blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def test_workflow_parses_and_uses_official_pages_actions():
    wf = workflow()
    assert "push" in wf["on"] and wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    uses = [s["uses"].split("@")[0] for job in wf["jobs"].values() for s in job["steps"] if "uses" in s]
    for action in ("actions/checkout", "actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"):
        assert action in uses
    build_steps = wf["jobs"]["build"]["steps"]
    upload = next(s for s in build_steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_site"
    assert wf["jobs"]["deploy"]["needs"] == "build"
    assert wf["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_workflow_runs_the_commands_readme_shows():
    wf = workflow()
    runs = [s["run"].strip() for s in wf["jobs"]["build"]["steps"] if "run" in s]
    section = readme_section("Publish on GitHub Pages")
    assert runs in code_blocks(section), (runs, code_blocks(section))
    assert any("--frozen" in r for r in runs)
    # the base URL comes from configure-pages, whose step id the build command names
    pages_step = next(s for s in wf["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/configure-pages"))
    assert f"steps.{pages_step['id']}.outputs.base_url" in runs[-1]
    # README covers both ways, the base path, committed results and the custom domain
    for needle in ("--out docs", "/docs", "base path", "results/", "cname", "CNAME"):
        assert needle in section.lower() if needle.islower() else needle in section, needle


def test_readme_commands_for_new_and_serve_exist():
    from studylog.scaffold import parser as new_parser
    from studylog.serve import parser as serve_parser
    section = readme_section("Write: a new diary, a live preview")
    cmds = [c for block in code_blocks(section) for c in block]
    for c in cmds:
        words = c.split()
        assert words[:2] == ["python", "build.py"]
        if words[2] == "new":
            new_parser().parse_args([w.strip('"') for w in (words[3:] if '"' not in c else
                                     [words[3], c.split('"')[1]])])
        else:
            serve_parser().parse_known_args(words[3:])


def test_ci_installs_chromium_only_when_missing():
    run = (ROOT / ".ci" / "run").read_text("utf-8")
    assert re.search(r"if ! command -v chromium.*fonts-noto-cjk.*; then", run)
    assert "apt-get install -y -qq chromium fonts-noto-cjk" in run
    assert "STUDYLOG_REQUIRE_BROWSER=1" in run
    assert run.index("apt-get install") < run.index("python -m pytest")
    assert "playwright" in (ROOT / "requirements-dev.txt").read_text("utf-8")
    assert "pagefind[extended]" in (ROOT / "requirements.txt").read_text("utf-8")
