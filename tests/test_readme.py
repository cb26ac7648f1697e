"""The README's two commands are the project's contract; CI must run the test one verbatim."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", text, flags=re.S)[:2]


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests
    assert tests.endswith("pytest") and "pip install -e '.[test]'" in tests


def test_example_command_installs_and_runs_the_bundled_workflow():
    example, _ = readme_commands()
    assert example.startswith("apt-get update && apt-get install -y python3-venv")
    assert "pip install -e '.[workflow]'" in example
    assert example.endswith("snakemake --cores 2 --configfile config/example.yaml")


def test_both_commands_build_the_pysam_the_counting_core_is_pinned_to():
    """The commands build pysam from source (libdeflate); its pin must be pyproject's, or the
    compiled core would meet another pysam than it was built against."""
    pin = re.search(r'"(pysam==[^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    for command in readme_commands():
        assert f"pip install --no-binary pysam '{pin}' && pip install -e" in command
        assert "libdeflate-dev" in command
