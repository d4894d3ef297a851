"""The ``deploytool`` command group and its one error rule: every failure is one line on stderr
(bad input or a failing disk exit 2, an artifact whose outputs are not its model's 1, an
interrupt 130, a bug 1); ``--debug`` shows the traceback."""

from __future__ import annotations

import signal
import threading

import click

from deploytool.core.errors import UserError
from deploytool.core.interrupts import on_interrupt, received, stop_if_interrupted

INTERRUPTED = "deploytool: interrupted; nothing half-written was left behind"


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` comes of a Ctrl-C: one arrived, or a KeyboardInterrupt is in its chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return received()


class DeploytoolGroup(click.Group):
    """Turns every failure into one line on stderr: bad input or a failing disk exits 2, an
    artifact whose outputs are not its model's 1 (:class:`~deploytool.core.errors.ArtifactMismatch`),
    an interrupt 130, a bug 1.
    ``--debug`` lets the traceback through instead."""

    def invoke(self, ctx):
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, on_interrupt)
        try:
            result = super().invoke(ctx)
            stop_if_interrupted()  # a Ctrl-C that a library printed and dropped
            return result
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except UserError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"deploytool: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            if interrupted(exc):  # a Ctrl-C that a library turned into another error
                click.echo(INTERRUPTED, err=True)
                ctx.exit(130)
            if isinstance(exc, OSError) and exc.strerror:  # the machine: disk full, read-only
                where = f"{exc.filename}: " if exc.filename else ""
                click.echo(f"deploytool: error: {where}{exc.strerror}", err=True)
                ctx.exit(2)
            # a bug of ours: still one line unless --debug
            lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [""]
            first_line = lines[-1] if lines[0].endswith(":") else lines[0]  # TF: "in user code:"
            click.echo(f"deploytool: internal error: {type(exc).__name__}: {first_line} "
                       "(run with --debug for the traceback)", err=True)
            ctx.exit(1)


@click.group(cls=DeploytoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="deploytool")
def main(debug):
    """deploytool: classic CNNs from a Keras definition to a verified on-device model."""
