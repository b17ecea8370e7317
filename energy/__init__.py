"""Energy model: technology tables with sources, component models, per-stage tally, reports."""
