"""User-facing errors: one clear line, non-zero exit, no traceback."""

from __future__ import annotations


class LogcamError(Exception):
    """A mistake in what the user gave us (config, file, parameter).

    The CLI prints ``logcam: error: <message>`` and exits with :attr:`exit_code`.
    The message names the field and what is allowed.
    """

    exit_code = 2


class ConfigError(LogcamError, ValueError):
    """A configuration value is missing, unknown, or out of range."""


class InputError(LogcamError, ValueError):
    """An input file or array has the wrong shape, dtype, range, or does not exist."""


class ToolchainError(LogcamError, RuntimeError):
    """A tool the RTL flow needs (Verilator, a C++ compiler, make, perl) is missing."""

    exit_code = 3
