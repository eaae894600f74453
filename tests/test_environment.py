"""pyproject.toml is the single source of the dependencies; environment.yml must agree."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())
PROJECT = PYPROJECT["project"]
# Extras that the default environment leaves out, each with the make target that installs it.
OPT_IN = {"bench": "bench"}  # the peers of benchmarks/bench_pipeline.py
DEFAULT_EXTRAS = [group for group in PROJECT["optional-dependencies"] if group not in OPT_IN]


def _requirements(group: str | None = None) -> list[Requirement]:
    specs = PROJECT["dependencies"] if group is None else PROJECT["optional-dependencies"][group]
    return [Requirement(s) for s in specs]


def _all_requirements() -> list[Requirement]:
    reqs = _requirements()
    for group in PROJECT["optional-dependencies"]:
        reqs += _requirements(group)
    return reqs


def test_environment_yml_python_agrees_with_requires_python():
    python = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert len(python) == 1, python
    assert SpecifierSet(python[0].removeprefix("python")) == SpecifierSet(PROJECT["requires-python"])


def test_environment_yml_installs_the_package_with_the_default_extras_and_nothing_else():
    conda = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    assert sorted(re.split(r"[<>=!~ ]", d)[0] for d in conda) == ["pip", "python"], conda
    pip = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, dict)]
    assert len(pip) == 1 and list(pip[0]) == ["pip"]
    (line,) = pip[0]["pip"]
    match = re.fullmatch(r"-e \.\[([a-z,_-]+)\]", line)
    assert match, f"environment.yml must install the package in editable mode with its extras, got {line!r}"
    assert set(match.group(1).split(",")) == set(DEFAULT_EXTRAS)


def test_makefile_installs_the_same_extras():
    makefile = (ROOT / "Makefile").read_text()
    extras = ",".join(DEFAULT_EXTRAS)
    assert f'pip install --quiet -e ".[{extras}]"' in makefile


@pytest.mark.parametrize("extra, target", sorted(OPT_IN.items()))
def test_makefile_installs_each_opt_in_extra_in_its_own_target(extra, target):
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe, f"the Makefile must have a target `{target}` that installs the extra {extra!r}"
    assert f'pip install --quiet -e ".[{extra}]"' in recipe.group(1)


@pytest.mark.parametrize(
    "name, must_allow, must_refuse",
    [
        ("torch", "2.11.0", None),  # the lent GPU machines have torch 2.11
        ("torchvision", "0.26.0", None),
        ("jupyter-book", "1.0.4", "2.0.0"),  # 2.x fetches its theme at build time and fails offline
        ("papermill", "2.6.0", None),
        ("jupyterlab", "4.2.0", None),
        ("matplotlib", "3.9.0", None),
        ("seaborn", "0.13.2", None),
        ("pytest", "8.3.0", None),
    ],
)
def test_required_packages_are_declared(name, must_allow, must_refuse):
    reqs = {r.name.lower(): r for r in _all_requirements()}
    assert name in reqs, f"{name} must be a dependency in pyproject.toml"
    assert reqs[name].specifier.contains(must_allow, prereleases=True)
    if must_refuse is not None:
        assert not reqs[name].specifier.contains(must_refuse, prereleases=True)


def test_requires_python_is_310_or_newer():
    spec = SpecifierSet(PROJECT["requires-python"])
    assert spec.contains("3.10") and spec.contains("3.12") and not spec.contains("3.9")


def test_installed_environment_satisfies_pyproject():
    """The environment the tests run in is the one pyproject.toml describes (an opt-in extra: where installed)."""
    opt_in = {req.name for group in OPT_IN for req in _requirements(group)}
    for req in _all_requirements():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            if req.name in opt_in:
                continue
            raise
        local = version.split("+")[0]  # torch 2.x.y+cu132: compare the public version
        assert req.specifier.contains(local, prereleases=True), f"{req.name} {version} does not satisfy {req}"
