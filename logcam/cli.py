"""The ``logcam`` command line.

Each top-level command lives in ``logcam/commands/<name>.py`` as a click object named ``cli`` and is
imported only when used, so ``logcam --help`` stays fast. User mistakes (:class:`LogcamError`) print
one line and exit non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from logcam import __version__
from logcam.errors import LogcamError

#: name → one-line help, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "run": "Main job: scenes → sensor → RDC → CNN → label, RTL-checked, energy, report.",
    "verify": "Check RTL against the golden model (Verilator or Amaranth's simulator); exit 1 on mismatch.",
    "rtl": "Emit Verilog, lint it with Verilator, print Yosys statistics.",
    "golden": "Run a bit-exact golden model on files (RDC codes, accelerator layers).",
    "sensor": "Render scenes through the EMVA 1288 sensor model; photon-transfer checks.",
    "energy": "Energy per pixel per stage from sourced technology tables.",
    "train": "Train a network on a RAW dataset in one input format and export it to int8.",
    "experiment": "The log-gradient paper's experiments (brightness, channels, similarity, reconstruction).",
    "explore": "Design-space exploration on Dask: train, verify and cost every grid point; Pareto front.",
    "search": "Co-search the optical front-end and the network under an energy or FLOPs cost; export, RTL-check.",
    "doctor": "Check the toolchain: Verilator, C++ compiler, make, perl, Yosys, torch.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported from ``logcam.commands`` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if importlib.util.find_spec(f"logcam.commands.{name}")]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not importlib.util.find_spec(f"logcam.commands.{cmd_name}"):
            return None
        module = importlib.import_module(f"logcam.commands.{cmd_name}")
        return module.cli

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="logcam")
def cli() -> None:
    """logcam: a hardware co-design simulator for tinyML vision.

    Photons → EMVA 1288 sensor → log-gradient RDC (Amaranth RTL, checked bit-exact under Verilator)
    → CNN → label, with energy in nJ/pixel per stage. Start with `logcam run`; every command
    takes --help, and most take --json for machine-readable output.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="logcam", standalone_mode=False)
    except LogcamError as err:
        click.echo("logcam: error: " + " ".join(str(err).splitlines()), err=True)  # one line, always
        sys.exit(err.exit_code)
    except click.exceptions.Abort as err:
        if isinstance(err.__cause__, EOFError):  # click turns any EOFError into Abort: that is a bug, not Ctrl-C
            raise err.__cause__ from None
        click.echo("logcam: aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:  # a usage mistake (bad option, missing argument): one line too
        ctx = getattr(err, "ctx", None)
        path = ctx.command_path if ctx is not None else "logcam"
        sub = path.removeprefix("logcam").strip()
        hint = f"; see '{path} --help'" if isinstance(err, click.UsageError) else ""
        msg = err.format_message().rstrip(".") if hint else err.format_message()
        click.echo(f"logcam: error: {sub + ': ' if sub else ''}{msg}{hint}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
