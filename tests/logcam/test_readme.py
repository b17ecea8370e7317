"""README.md opens with the two fresh-machine commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_install_run_and_install_test() -> None:
    first, second = _readme_commands()
    assert first.strip().endswith("logcam run")
    assert "pytest" in second
    for cmd in (first, second):
        assert "torch==2.13.0" in cmd, "the CPU wheel must be pinned in both install lines"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    _, second = _readme_commands()
    assert second.strip() in ci.splitlines()
