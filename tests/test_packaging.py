"""The install story: pyproject and environment.yml in step; .ci/run is the README's test command."""

import re
import tomllib

import yaml

from rae_explore.paths import ROOT

# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {}


def _name(req):
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_environment_yml_matches_pyproject():
    proj = _pyproject()
    py = {_name(r): r.replace(" ", "") for r in proj["dependencies"] + proj["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for r in dep["pip"]:
                if not r.startswith("-"):
                    pip[_name(r)] = r.replace(" ", "")
        elif not dep.startswith(("python", "pip")) or dep.startswith("python-"):
            conda[CONDA_TO_PYPI.get(_name(dep), _name(dep))] = dep.replace(" ", "")
    listed = set(conda) | set(pip)
    assert listed == set(py), f"only in pyproject: {set(py) - listed}; only in environment.yml: {listed - set(py)}"
    for name, req in py.items():
        other = pip.get(name) or conda[name]
        # conda pins with a single '=', pip with '=='
        assert re.sub(r"(?<![=<>!])=(?!=)", "==", other.split(name, 1)[1]) == req.split(name, 1)[1] or \
            other.split(name, 1)[1] == req.split(name, 1)[1], f"{name}: pyproject {req!r} vs environment.yml {other!r}"


def test_torch_is_pinned_to_the_local_cpu_build():
    deps = _pyproject()["dependencies"]
    assert "torch==2.13.0" in deps
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert len(commands) == 2, f"Quick start must hold exactly two commands, got {commands}"
    test_cmd = next(c for c in commands if "test" in c)
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == [test_cmd]


def test_console_script_declared():
    assert _pyproject()["scripts"]["rae-explore"] == "rae_explore.cli:main"
