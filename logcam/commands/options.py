"""Command-line options that several commands share, spelled once: a network is ``--net`` with
``--weights`` / ``--random-weights`` everywhere, and the rule for its weights is stated here once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

#: The weights rule every command follows (logcam.nn.netspec.load_net), for --help texts.
WEIGHTS_RULE = ("Weights: --weights W.npz, or --random-weights SEED (seeded random int8), else the bundle "
                "beside the NetSpec (same name, .npz) — the built-in 2conv1fc ships its trained bundle.")

NET = click.option("--net", "net", type=click.Path(dir_okay=False, path_type=Path), default=None,
                   help="NetSpec YAML. Default: the built-in 2conv1fc network (96×96 3-level codes).")
WEIGHTS = click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                       help="Weights bundle .npz matching the NetSpec. Default: the bundle beside the NetSpec.")
RANDOM_WEIGHTS = click.option("--random-weights", "random_weights", type=click.IntRange(0), default=None,
                              metavar="SEED", help="Random int8 weights drawn with this seed instead of a bundle.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def net_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--net``, ``--weights`` and ``--random-weights``."""
    return NET(WEIGHTS(RANDOM_WEIGHTS(fn)))
