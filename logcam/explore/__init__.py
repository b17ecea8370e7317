"""Design-space exploration on Dask (``logcam explore``): every point of a grid trained, exported, checked
against the golden model (optionally the RTL) and costed in nJ/pixel, one Dask task per point, results in
a crash-safe SQLite store, the Pareto front at the end. See docs/explore.md.

Modules, one job each: :mod:`.grid` (YAML → canonical points, hashes, seeds), :mod:`.point` (the task),
:mod:`.store` (SQLite WAL), :mod:`.cluster` (LocalCluster or a scheduler), :mod:`.runner` (submit and
commit), :mod:`.report` (CSV, Pareto, plots), :mod:`.session` (all of it in order, for the CLI).
"""
