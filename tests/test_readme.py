"""README stays true: its example experiment parses, and CI runs its test command."""
import re

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
