"""The ``promoter-cr`` command line.

Each stage registers its sub-command from a module in :mod:`promoter_cr.commands`
(``register(subparsers)``); heavy libraries are imported inside the handlers so
``promoter-cr --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from promoter_cr import __version__
from promoter_cr.errors import PromoterCRError

# modules under promoter_cr.commands, each with register(subparsers)
COMMAND_MODULES = ["data", "train", "attribute", "motifs", "figures"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promoter-cr", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"promoter-cr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"promoter_cr.commands.{name}")
        except ModuleNotFoundError as exc:  # a stage not installed in this build
            if exc.name != f"promoter_cr.commands.{name}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        rc = args.func(args)
    except PromoterCRError as exc:
        print(f"promoter-cr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
