"""The GitHub Actions workflows (.github/workflows/), linted offline.

Two linters from the test extra: check-jsonschema with its vendored schema of
GitHub workflows, and zizmor, a security linter, with every audit on
(``--persona pedantic``) and the policy in .github/zizmor.yml. A linter that is
missing fails the tests: it is part of ``pip install -e ".[test]"``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BOOK = WORKFLOWS / "book.yml"
TESTS = WORKFLOWS / "tests.yml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
ALL = sorted(WORKFLOWS.glob("*.y*ml"))  # every workflow is linted, not only these two
PAGES_ACTIONS = ("actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages")


def _linter(name: str) -> Path:
    path = Path(sys.executable).parent / name
    assert path.is_file(), (
        f"{name} is not installed beside {sys.executable}; it is in the test extra: pip install -e '.[test]'"
    )
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, env=env, check=False)


def _check_jsonschema(*files: Path) -> subprocess.CompletedProcess:
    return _run(_linter("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files)


def _zizmor(*files: Path) -> subprocess.CompletedProcess:
    return _run(_linter("zizmor"), "--offline", "--persona", "pedantic", "--config", ZIZMOR_CONFIG, *files)


def _load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _uses(workflow: dict) -> list[str]:
    return [step["uses"] for step in _steps(workflow) if "uses" in step]


def _step_using(workflow: dict, action: str) -> dict:
    (step,) = [s for s in _steps(workflow) if s.get("uses", "").startswith(action + "@")]
    return step


def test_the_linted_workflows_include_the_two_of_the_readme():
    assert {BOOK, TESTS} <= set(ALL)


def test_workflows_match_the_github_workflow_schema():
    result = _check_jsonschema(*ALL)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_job_has_a_timeout():
    result = _run(_linter("check-jsonschema"), "--builtin-schema", "custom.github-workflows-require-timeout", *ALL)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_have_no_zizmor_findings():
    result = _zizmor(*ALL)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    workflow = _load(BOOK)
    del workflow["jobs"]["build"]["runs-on"]  # a job must say where it runs
    workflow["jobs"]["deploy"]["timeout-minutes"] = "ten"
    broken = tmp_path / "book.yml"
    broken.write_text(yaml.safe_dump(workflow, sort_keys=False))
    result = _check_jsonschema(broken)
    assert result.returncode != 0
    assert "runs-on" in result.stdout + result.stderr


def test_zizmor_flags_template_injection_and_an_unpinned_action(tmp_path):
    workflow = _load(TESTS)
    steps = workflow["jobs"]["test"]["steps"]
    steps.append({"run": "echo ${{ github.event.pull_request.title }}"})  # the title is the attacker's text
    steps.append({"uses": "someone/some-action@main"})  # not GitHub's own: must be pinned by hash
    broken = tmp_path / "tests.yml"
    broken.write_text(yaml.safe_dump(workflow, sort_keys=False))
    result = _zizmor(broken)
    assert result.returncode != 0
    assert "template-injection" in result.stdout and "unpinned-uses" in result.stdout, result.stdout


@pytest.mark.parametrize("path", [BOOK, TESTS], ids=lambda p: p.name)
def test_no_run_script_expands_an_expression(path):
    """`${{ }}` in a script is pasted into the shell before it runs: pass values through `env:`."""
    for step in _steps(_load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: step {step.get('name', step['run'][:40])!r}"


@pytest.mark.parametrize("path", [BOOK, TESTS], ids=lambda p: p.name)
def test_checkout_keeps_no_credentials_and_python_is_311(path):
    workflow = _load(path)
    assert _step_using(workflow, "actions/checkout")["with"]["persist-credentials"] is False
    assert _step_using(workflow, "actions/setup-python")["with"]["python-version"] == "3.11"


@pytest.mark.parametrize("path", [BOOK, TESTS], ids=lambda p: p.name)
def test_the_environment_is_cached_on_pyproject(path):
    caches = [s["with"] for s in _steps(_load(path)) if s.get("uses", "").startswith("actions/cache@")]
    (venv,) = [c for c in caches if c["path"] == ".venv"]
    assert "hashFiles('pyproject.toml')" in venv["key"] and "python-version" in venv["key"]


def test_book_workflow_builds_with_make_book_and_deploys_with_the_official_pages_actions():
    workflow = _load(BOOK)
    assert workflow["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in workflow["on"]
    assert [s["run"] for s in _steps(workflow) if s.get("run", "").startswith("make ")] == ["make book"]
    used = {u.split("@")[0] for u in _uses(workflow)}
    assert set(PAGES_ACTIONS) <= used
    assert _step_using(workflow, "actions/upload-pages-artifact")["with"]["path"] == "_build/html"
    (models,) = [s["with"] for s in _steps(workflow) if s.get("with", {}).get("path") == ".cache/models"]
    assert "hashFiles('camlib/**', 'notebooks/**')" in models["key"] and models["restore-keys"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"] == {"name": "github-pages", "url": "${{ steps.deployment.outputs.page_url }}"}
    assert workflow["concurrency"]["group"] == "pages"


def test_permissions_are_read_only_except_the_deploy_job():
    for path in (BOOK, TESTS):
        assert _load(path)["permissions"] == {"contents": "read"}, path.name
    jobs = _load(BOOK)["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert set(jobs["build"]["permissions"].values()) == {"read"}
    assert "permissions" not in _load(TESTS)["jobs"]["test"]


def test_tests_workflow_runs_the_ci_script_on_push_and_pull_request():
    workflow = _load(TESTS)
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert [s["run"] for s in _steps(workflow) if "run" in s] == ["bash .ci/run"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_book_is_pointed_at_the_repository_the_workflow_runs_in(tmp_path):
    """The step sets `repository: url:` in a copy of _config.yml, from its `env:`, and turns the two buttons on."""
    (step,) = [s for s in _steps(_load(BOOK)) if "_config.yml" in s.get("run", "")]
    assert step["env"] == {"REPOSITORY_URL": "${{ github.server_url }}/${{ github.repository }}"}
    config = (ROOT / "_config.yml").read_text()
    (tmp_path / "_config.yml").write_text(config)
    env = {
        **os.environ,
        "REPOSITORY_URL": "https://github.com/someone/camlib-fork",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rewritten = yaml.safe_load((tmp_path / "_config.yml").read_text())
    expected = yaml.safe_load(config)
    expected["repository"]["url"] = "https://github.com/someone/camlib-fork"
    expected["html"]["use_repository_button"] = expected["html"]["use_issues_button"] = True
    assert rewritten == expected


def test_a_local_build_shows_no_placeholder_repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == ""
    assert config["html"]["use_repository_button"] is False and config["html"]["use_issues_button"] is False
    for path in [ROOT / "_config.yml", *(ROOT / "book").glob("*.md")]:
        assert "camlib-study" not in path.read_text(), path
