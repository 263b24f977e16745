"""``promoter-cr build-data`` and ``promoter-cr download``."""

from __future__ import annotations

import argparse
from pathlib import Path

from promoter_cr.commands import add_config_arg, read_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-data",
        help="build the data set (sequences.npy, genes.tsv, meta.json) of dataset.source",
        description="Build the data set configured in the 'dataset' section (source simulate, fasta, genome or xpresso).",
    )
    add_config_arg(p)
    p.add_argument("--out", required=True, help="output folder (results/<dataset>/data)")
    p.set_defaults(func=_build_data)

    d = sub.add_parser(
        "download",
        help="download a file (resumable, retried, checksum-verified)",
        description="Download URL to OUT: resume with HTTP Range, retry with back-off, verify checksums, rename atomically.",
    )
    d.add_argument("--url", required=True, help="http(s)/ftp URL, file:// URL or local path")
    d.add_argument("--out", required=True, help="destination file")
    d.add_argument("--sha256", default=None, help="expected sha256 (hex)")
    d.add_argument("--md5", default=None, help="expected md5 (hex)")
    d.add_argument("--size", type=int, default=None, help="expected size in bytes")
    d.add_argument("--retries", type=int, default=4, help="retries after the first attempt (default 4)")
    d.add_argument("--backoff", type=float, default=2.0, help="first back-off in seconds; doubles per retry (default 2)")
    d.add_argument("--timeout", type=float, default=60.0, help="socket timeout in seconds (default 60)")
    d.set_defaults(func=_download)


def _build_data(args: argparse.Namespace) -> int:
    from promoter_cr.data.sources import build_dataset

    cfg = read_config(args.config)
    build_dataset(cfg, Path(args.out))
    return 0


def _download(args: argparse.Namespace) -> int:
    from promoter_cr.data.download import download

    download(
        args.url,
        Path(args.out),
        sha256=args.sha256,
        md5=args.md5,
        size=args.size,
        retries=args.retries,
        backoff_s=args.backoff,
        timeout_s=args.timeout,
    )
    return 0
