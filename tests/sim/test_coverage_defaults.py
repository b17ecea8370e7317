"""The default `verify rdc` stimulus (4 mixed frames) reaches every RDC coverage bin of a 3-level RDC: its one
corner frame is a stripe exactly on the threshold (both signs at the comparator's edge), not the all-zero frame.
(5 and 7 levels have 2 and 3 thresholds: one corner frame cannot sit on all of them; `--frames` 3·2m or
`--source corners` can.)"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.nn.golden.rdc import rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.coverage import rdc_coverage
from logcam.sim.rtl.rdc_frames import corner_frames, frames_for


@pytest.mark.parametrize("spec", [RdcSpec(), RdcSpec(width=32, height=16, lanes=2, mode="hv"),
                                  RdcSpec(width=24, height=12, lanes=1, mode="h", thresholds=["3/2"])])
def test_four_mixed_frames_reach_every_rdc_bin(spec: RdcSpec) -> None:
    frames = frames_for(spec, 4, seed=0)
    cov = rdc_coverage(spec, frames, rdc_codes(frames, spec).numpy())
    assert cov.missed == [], cov.summary()


def test_edges_first_reorders_the_corner_cases_only() -> None:
    spec = RdcSpec()
    plain, first = corner_frames(spec, 17, 1), corner_frames(spec, 17, 1, edges_first=True)
    assert sorted(f.tobytes() for f in plain) == sorted(f.tobytes() for f in first)  # the same cases
    assert plain[0].max() == 0 and first[0].min() > 0  # all-zero first before, a stripe (two values) now
    assert len(np.unique(first[0])) == 2
