"""The ``ddclab`` command line.

Each sub-command lives in its own module under :mod:`ddclab.commands` and exports
a click command or group named ``command``. This file only assembles them and
turns user errors into one line on stderr with exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from .errors import DdclabError

# Sub-command modules, in the order ``ddclab --help`` lists them. A module that
# is not present in this build is simply not offered.
_COMMAND_MODULES = ["sim", "sweep", "traffic", "emu", "budget", "reproduce", "report"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ddclab")
def cli() -> None:
    """ddclab: a laboratory for disaggregated datacenters."""


def _register() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ddclab.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ddclab.commands.{name}":
                continue
            raise
        cli.add_command(module.command)


_register()


def main(argv: list[str] | None = None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="ddclab", standalone_mode=False)
    except DdclabError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
