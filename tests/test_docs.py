"""The README and docs/ stay in step with the software: links, commands, options, the example."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from benchmark.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "examples").glob("*"))  # cluster examples: README, Slurm, Kubernetes
COMMANDS = (
    "list",
    "run",
    "tune",
    "worker",
    "status",
    "leaderboard",
    "report",
    "predict",
    "dashboard",
)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to '-'."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _command_lines(markdown: str) -> list[tuple[str, str]]:
    """(command, rest of line) of every `python -m benchmark <command> ...` shown in the docs."""
    joined = re.sub(r"\\\n\s*", " ", markdown)  # shell line continuations
    found = []
    for match in re.finditer(r"python -m benchmark (\w+)([^`\n#]*)", joined):
        found.append((match.group(1), match.group(2)))
    return found


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_readme_is_a_front_page_with_the_two_commands() -> None:
    """At most 200 lines, and a newcomer finds the two commands verbatim."""
    readme = _text(README)
    assert len(readme.splitlines()) <= 200
    assert "uv run python -m benchmark run --all" in readme
    assert "uv run pytest" in readme
    assert "uv run pytest -m slow" in readme
    for page in ("docs/guide.md", "docs/methods.md", "docs/results.md"):
        assert f"]({page}" in readme, f"README does not link {page}"


@pytest.mark.parametrize("page", DOCS, ids=lambda path: path.name)
def test_links_between_pages_resolve(page: Path) -> None:
    """Every relative link names a file that exists and, with '#', a heading in it."""
    text = _text(page)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        assert linked.exists(), f"{page.name}: broken link {target}"
        if anchor:
            assert anchor in _anchors(_text(linked)), f"{page.name}: no heading for {target}"


def test_shown_commands_use_options_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    """Each `python -m benchmark <command> --option` in the docs and examples/ is an option of
    that command."""
    helps = {command: _help(command, capsys) for command in COMMANDS}
    checked = 0
    shown = set()
    for page in [*DOCS, *EXAMPLES]:
        for command, rest in _command_lines(_text(page)):
            assert command in COMMANDS, f"{page.name}: unknown command {command!r}"
            for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                assert re.search(rf"(?<![\w-]){option}\b", helps[command]), (
                    f"{page.name}: `{command} {option}` is not in `{command} --help`"
                )
                checked += 1
            shown.add(command)
    assert checked > 20  # the docs show many commands; a broken pattern must not pass quietly
    assert {"worker", "status"} <= shown  # the guide's several-machines section and examples/


def test_cluster_examples_run_a_worker_with_options_that_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """examples/: the Slurm script is valid bash; the Kubernetes Job runs N `worker` pods whose
    options exist, with the URIs from a Secret and a host name per pod."""
    import shutil
    import subprocess

    import yaml

    script = ROOT / "examples" / "slurm-workers.sh"
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    slurm = re.sub(r"\\\n\s*", " ", _text(script))
    assert re.search(r"^#SBATCH --array=", slurm, flags=re.MULTILINE)
    assert '--host "$SLURMD_NODENAME-$SLURM_ARRAY_TASK_ID"' in slurm
    assert re.search(r"^exec \S*python -m benchmark worker ", slurm, flags=re.MULTILINE)

    (job,) = yaml.safe_load_all(_text(ROOT / "examples" / "kubernetes-workers.yaml"))
    assert job["kind"] == "Job"
    assert job["spec"]["parallelism"] == job["spec"]["completions"] > 1
    (container,) = job["spec"]["template"]["spec"]["containers"]
    line = [*container["command"], *container["args"]]
    assert line[:7] == ["uv", "run", "--frozen", "python", "-m", "benchmark", "worker"]
    helps = _help("worker", capsys)
    options = [word for word in line if word.startswith("--") and word != "--frozen"]
    assert {"--storage", "--tracking-uri", "--host"} <= set(options)
    assert "$(POD_NAME)" in line[line.index("--host") + 1]  # each pod its own host in status
    for option in options:
        assert re.search(rf"(?<![\w-]){option}\b", helps), f"worker {option} does not exist"
    secrets = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["name"]
        for item in container["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert {"BENCHMARK_STORAGE", "BENCHMARK_TRACKING_URI"} <= set(secrets)
    for name in secrets:
        assert f"$({name})" in container["args"], f"{name} is read but not passed"


def test_readme_example_architecture_registers_and_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's example module registers, builds a model and returns its DEFAULTS' keys."""
    import optuna

    from architectures import registry

    example = re.search(r"```python\n(\"\"\"A small CNN.*?)```", _text(README), re.DOTALL)
    assert example, "README lost its example architecture"
    module = types.ModuleType("architectures.small_readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "_REGISTRY", {})  # the real registry stays as it was
    exec(compile(example.group(1), "README.md", "exec"), module.__dict__)

    small = registry.get("small")
    model = small.build(small.params(), (28, 28, 1), 10)
    assert model.output_shape == (None, 10)
    chosen = {"filters": 16, "learning_rate": 1e-3, "batch_size": 64, "optimizer": "adam"}
    trial = optuna.trial.FixedTrial({**chosen, "lr_schedule": "constant"})
    assert set(small.search_space(trial)) == set(small.defaults)


def test_results_page_is_short_and_every_section_says_how_where_and_when() -> None:
    """docs/results.md: at most 400 lines; each measured section a command, a machine and a date."""
    results = _text(ROOT / "docs" / "results.md")
    assert len(results.splitlines()) <= 400
    sections = re.split(r"^## ", results, flags=re.MULTILINE)[1:]
    assert len(sections) > 10
    for section in sections:
        title = section.splitlines()[0]
        if title == "Changes":  # the history list: one dated line per change
            assert all(
                re.match(r"- \d{4}-\d\d-\d\d: ", line)
                for line in section.splitlines()
                if line.startswith("- ")
            )
            continue
        assert re.search(r"\b\d{4}-\d\d-\d\d\b", section), f"results.md '{title}': no date"
        assert re.search(r"Xeon|EPYC", section), f"results.md '{title}': no machine"
        command = r"python (-m benchmark|benchmarks/|-c)|uv run pytest"
        assert re.search(command, section), f"results.md '{title}': no command"
