"""Sub-commands of ``promoter-cr``: each module declares a table ``COMMANDS`` of :class:`Command`.

A :class:`Command` is data: name, help, description, examples, its options (in order, each a
callable that adds itself to the parser: the helpers below, or :func:`arg` for a one-off) and the
``run(args) -> int`` function. Every sub-command is thin: one call into the package, logging
(never print). ``--config`` is a YAML config file, or an inline JSON object of config
sections (what the Snakemake jobs pass); either way it is validated against the schema, which
supplies every default.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from promoter_cr.config import load_config, validate_config

#: an option of a sub-command: adds itself (one or more arguments) to the parser
Option = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One sub-command: what ``promoter-cr NAME --help`` shows, its options in order, and what it runs.

    ``runs_torch``: the command runs a model, so ``--threads`` sizes torch's pools first (the
    ``--device`` option sets it too).
    """

    name: str
    help: str
    description: str
    examples: Sequence[str]
    options: Sequence[Option]
    run: Callable[[argparse.Namespace], int]
    runs_torch: bool = False

    def register(self, sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Add this command to ``sub`` (with the run options of ``parent``)."""
        p = add_command(sub, parent, self.name, help=self.help, description=self.description, examples=self.examples)
        for option in self.options:
            option(p)
        p.set_defaults(func=self.run, **({"runs_torch": True} if self.runs_torch else {}))
        return p


def arg(*flags: str, **kwargs: Any) -> Option:
    """A one-off option: ``argparse.ArgumentParser.add_argument(*flags, **kwargs)``."""

    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument(*flags, **kwargs)

    return add


def add_command(
    sub: argparse._SubParsersAction,
    parent: argparse.ArgumentParser,
    name: str,
    *,
    help: str,
    description: str,
    examples: Sequence[str],
) -> argparse.ArgumentParser:  # noqa: A002
    """A sub-command with a description, the run options of ``parent`` and an examples epilog."""
    epilog = "example:\n" + "\n".join(f"  {e}" for e in examples)
    return sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        parents=[parent],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_config(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--config`` (YAML file or inline JSON of config sections)."""
    p.add_argument(
        "--config",
        required=required,
        default=None,
        metavar="YAML|JSON",
        help="config YAML file, or an inline JSON object of config sections; validated, defaults from the schema"
        + ("" if required else " (default: the schema's defaults)"),
    )


def add_dir(p: argparse.ArgumentParser, flag: str, what: str, required: bool = True) -> None:
    """A folder option (``--data``, ``--attributions``, ...)."""
    p.add_argument(flag, required=required, type=Path, metavar="DIR", help=what)


def add_data(p: argparse.ArgumentParser, required: bool = True) -> None:
    add_dir(p, "--data", "data set folder (results/<dataset>/data: sequences.npy, genes.tsv, meta.json)", required)


def add_out(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help=f"output folder ({what})")


def add_checkpoint(
    p: argparse.ArgumentParser, what: str = "a CR checkpoint (results/<dataset>/models/<name>/best.ckpt)"
) -> None:
    p.add_argument("--checkpoint", required=True, type=Path, metavar="CKPT", help=what)


def add_checkpoints(p: argparse.ArgumentParser, what: str) -> None:
    """``--checkpoint CKPT [CKPT ...]``: one CR checkpoint, or the cross-fitting fold checkpoints."""
    p.add_argument("--checkpoint", required=True, nargs="+", type=Path, metavar="CKPT", help=what)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default=None,
        metavar="DEV",
        help="torch device: cpu, cuda, cuda:1, mps (default: a GPU when there is one, else the CPU)",
    )
    p.set_defaults(runs_torch=True)  # --threads then sizes torch's pools before the command runs


def add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def read_config(arg: str | None) -> dict[str, Any]:
    """The validated config of ``--config``: inline JSON (sections; cross-section checks skipped),
    a YAML file (fully checked), or ``None`` (the schema's defaults)."""
    if arg is None:
        return validate_config({}, semantics=False)
    if arg.lstrip().startswith("{"):
        try:
            raw = json.loads(arg)
        except json.JSONDecodeError as exc:
            from promoter_cr.errors import ConfigError

            raise ConfigError(f"--config is not valid JSON: {exc}") from None
        return validate_config(raw, source="--config JSON", semantics=False)
    return load_config(arg)


# ----------------------------------------------------------------------------- option factories
def path(flag: str, metavar: str, what: str, *, required: bool = False) -> Option:
    """A file or folder option: ``flag METAVAR`` parsed as a :class:`~pathlib.Path` (``None`` when not given)."""
    return (
        arg(flag, required=True, type=Path, metavar=metavar, help=what)
        if required
        else arg(flag, default=None, type=Path, metavar=metavar, help=what)
    )


def config(required: bool = True) -> Option:
    """``--config``; optional commands fall back to the schema's defaults."""
    return partial(add_config, required=required)


def dataset(required: bool = True) -> Option:
    """``--data``: the data set folder."""
    return partial(add_data, required=required)


def folder(flag: str, what: str, required: bool = True) -> Option:
    """A folder option (``--attributions``, ``--clusters``, ...)."""
    return partial(add_dir, flag=flag, what=what, required=required)


def out(what: str) -> Option:
    """``--out DIR``."""
    return partial(add_out, what=what)


def checkpoint(what: str | None = None) -> Option:
    """``--checkpoint CKPT`` (one checkpoint)."""
    return add_checkpoint if what is None else partial(add_checkpoint, what=what)


def checkpoints(what: str) -> Option:
    """``--checkpoint CKPT [CKPT ...]``."""
    return partial(add_checkpoints, what=what)


#: ``--device`` (and runs_torch)
device: Option = add_device
#: ``--no-progress``
progress: Option = add_progress
