"""Survey a fuzz module's families without stopping at the first failure: examples run and failures, per family.

``python -m tests.fuzz.test_fuzz_golden [EXAMPLES]`` calls :func:`survey`; the failing cases are printed
(argv, exit code, the first stderr line or the traceback's last line) so they can be listed and fixed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st

from tests.fuzz.harness import CAMPAIGN, TALLY
from tests.fuzz.inputs import FAILURES, check_all_refused

Families = dict[str, tuple[st.SearchStrategy, Callable[[object, Path], list[str]]]]


def symptom(message: str) -> str:
    """One line from an assert_rejected failure: the argv (temporary folders elided) and what happened."""
    lines = message.splitlines()
    argv = next((ln for ln in lines if ln.startswith("logcam ")), "?")
    argv = re.sub(r"/tmp/logcam-fuzz-[^/ ]+/?", "", argv)
    tb = [ln for ln in lines if ln and not ln.startswith(" ")]
    last = tb[-1] if tb else ""
    example = lines[0][:100]
    verdict = lines[1] if len(lines) > 1 else ""
    return f"{argv} | {example} | {verdict[:60]} | {last[:160]}"


def survey(families: Families, examples: int | None = None, guard: dict | None = None) -> int:
    """Run every family (``examples`` each, default from argv or CAMPAIGN), print the tally and the failures;
    ``guard``: keyword arguments for :func:`~tests.fuzz.inputs.fuzz` (``rtl_guard``, ``timeout_s``)."""
    n = examples if examples is not None else (int(sys.argv[1]) if len(sys.argv) > 1 else CAMPAIGN)
    failed_total = 0
    for family, (strategy, argv) in families.items():
        FAILURES.clear()
        check_all_refused(family, strategy, argv, n, collect=True, **(guard or {}))
        failed_total += len(FAILURES)
        print(f"{family:<28} {TALLY[family]:>5} examples {len(FAILURES):>5} failed", flush=True)
        for _, msg in FAILURES:
            print("    " + symptom(msg), flush=True)
    print(f"{'total':<28} {sum(TALLY[f] for f in families):>5} examples {failed_total:>5} failed")
    return failed_total


__all__ = ["survey", "symptom"]
