"""Command modules of the logcam CLI: one module per top-level command, each exposing ``cli``."""
