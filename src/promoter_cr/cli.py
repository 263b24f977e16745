"""The ``promoter-cr`` command line (also ``python -m promoter_cr``).

Each pipeline stage declares its sub-commands in a table (``COMMANDS``, of
:class:`promoter_cr.commands.Command`) in a module of :mod:`promoter_cr.commands`; a sub-command
parses its options with the shared helpers there and calls one package function. Heavy libraries are
imported inside the handlers, so ``--help`` is fast. Snakemake rules call :func:`run_workflow_job`
(``workflow/scripts/run_job.py``): the same commands, with the job's log file, threads and validated
config.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
import traceback
from typing import Any

from promoter_cr import __version__
from promoter_cr.atomic import disk_error
from promoter_cr.errors import ConfigError, DownloadError, InputDataError, OutputError, PromoterCRError

#: modules under promoter_cr.commands, each with its table COMMANDS, in pipeline order
COMMAND_MODULES = ["data", "train", "interpret", "motifs", "variants", "figures"]

#: exit status by outcome (documented in the README and in ``promoter-cr --help``)
EXIT_OK = 0
EXIT_INTERNAL = 1  # an unexpected error (a bug): the traceback is in the log
EXIT_USAGE = 2  # bad command line (argparse)
EXIT_CONFIG = 3  # invalid configuration
EXIT_INPUT = 4  # bad or missing input data (the message names the file and record)
EXIT_DOWNLOAD = 5  # a download failed for good
EXIT_ANALYSIS = 6  # a stage cannot give a valid result (e.g. weighted features that do not add up)
EXIT_OUTPUT = 7  # an output cannot be written: no space left on the device, or a read-only file system

EPILOG = """\
exit status: 0 success, 1 internal error (a bug; traceback in the log), 2 usage error,
3 invalid configuration, 4 bad input data, 5 download failed, 6 a stage could not give a
valid result, 7 an output could not be written (no space left on the device, or read-only).
Errors name the config key, or the file and record, at fault.

Run 'promoter-cr COMMAND --help' for a command's options and an example."""


def exit_code(exc: BaseException) -> int:
    """The exit status of a command that raised ``exc``."""
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, InputDataError):
        return EXIT_INPUT
    if isinstance(exc, DownloadError):
        return EXIT_DOWNLOAD
    if isinstance(exc, OutputError) or disk_error(exc):
        return EXIT_OUTPUT
    if isinstance(exc, PromoterCRError):
        return EXIT_ANALYSIS
    return EXIT_INTERNAL


def global_options(in_subcommand: bool) -> argparse.ArgumentParser:
    """Options every sub-command accepts, before or after its name.

    In the sub-commands their defaults are suppressed, so a value given before the command
    name is not overwritten by the sub-command's default (argparse applies those last).
    """
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("run options")

    def default(value):
        return argparse.SUPPRESS if in_subcommand else value

    g.add_argument(
        "--log",
        metavar="FILE",
        default=default(None),
        help="write everything (log, progress, warnings, tracebacks) to FILE; the "
        "console then shows only progress lines and a one-line error",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=default(None),
        metavar="N",
        help="threads for torch, BLAS/OpenMP and numba (default: the libraries' own choice)",
    )
    g.add_argument("-v", "--verbose", action="store_true", default=default(False), help="debug logging")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promoter-cr",
        description="Predict mRNA abundance from promoter sequence with an interpretable "
        "Contextual Regression model, then mine the motif grammar behind it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(in_subcommand=False)],
    )
    parser.add_argument("--version", action="version", version=f"promoter-cr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parent = global_options(in_subcommand=True)
    for name in COMMAND_MODULES:
        for command in importlib.import_module(f"promoter_cr.commands.{name}").COMMANDS:
            command.register(sub, parent)
    return parser


def _label(args: argparse.Namespace) -> str:
    """Short job label for console lines: the command and its model/stage, if any."""
    detail = getattr(args, "model", None) or getattr(args, "stage", None)
    if getattr(args, "fold", None) is not None:
        detail = f"{detail} fold {args.fold}"
    return f"{args.command} {detail}" if detail else args.command


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (see :data:`EPILOG`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from promoter_cr import console

    stream = console.setup(args.log, args.verbose, _label(args))
    if getattr(args, "runs_torch", False):
        from promoter_cr.runtime import keep_freed_memory

        keep_freed_memory()
    if args.threads:
        from promoter_cr.runtime import limit_threads

        limit_threads(args.threads, torch_pools=getattr(args, "runs_torch", False))
    started = time.perf_counter()
    try:
        rc = args.func(args)
        _log_resources(args.command, started)
    except (PromoterCRError, Exception) as exc:  # noqa: BLE001 - every failure gets one clear line
        code = exit_code(exc)
        if code == EXIT_INTERNAL:
            logging.getLogger(__name__).error("unexpected error\n%s", traceback.format_exc())
            message = f"{type(exc).__name__}: {exc}"
        else:
            message = str(exc)
            if not isinstance(exc, PromoterCRError) and disk_error(exc):  # a disk error outside promoter_cr.atomic
                message = f"{getattr(exc, 'filename', None) or '<output>'}: cannot write: {disk_error(exc)}"
            if args.log:  # the job log keeps the cause too; without one the console line is all
                logging.getLogger(__name__).error("%s", message)
        console.error_line(stream, args.command, message.splitlines()[0] if message else type(exc).__name__, args.log)
        return code
    return int(rc or EXIT_OK)


def _log_resources(command: str, started: float) -> None:
    """One log line per finished command: wall and CPU seconds, peak resident memory (what the
    scale benchmark reads from each job's log)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    logging.getLogger(__name__).info(
        "resources: %s took %.1f s wall, %.1f s CPU, peak RSS %.0f MB",
        command,
        time.perf_counter() - started,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
    )


def workflow_argv(command: str, args: list[str], config: dict[str, Any] | None, log: str, threads: int) -> list[str]:
    """The command line of one Snakemake job (the config travels as inline JSON, in-process)."""
    argv = ["--log", log, "--threads", str(threads), command, *[str(a) for a in args]]
    if config is not None:
        argv += ["--config", json.dumps(config, sort_keys=True)]
    return argv


def run_workflow_job(snakemake: Any) -> None:
    """Entry point of ``workflow/scripts/run_job.py``: run ``params.command`` for one Snakemake job.

    Reads ``params.command``, ``params.args`` (list) and ``params.config`` (the config sections
    the job uses, or ``None``), the job's ``log`` and ``threads``; exits with the command's status.
    """
    p = snakemake.params
    argv = workflow_argv(p.command, list(p.args), p.config, str(snakemake.log[0]), int(snakemake.threads))
    sys.exit(main(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
