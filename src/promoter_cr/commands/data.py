"""``promoter-cr build-data`` and ``promoter-cr download`` (stages 1-2)."""

from __future__ import annotations

import argparse
import logging

from promoter_cr.commands import Command, arg, config, out, path, read_config

log = logging.getLogger(__name__)


def run_build_data(args: argparse.Namespace) -> int:
    from promoter_cr.data.sources import build_dataset

    build_dataset(read_config(args.config), args.out)
    logging.getLogger("promoter_cr.console").info("data set written to %s", args.out)
    return 0


def run_download(args: argparse.Namespace) -> int:
    from promoter_cr.data.download import download

    dl = read_config(args.config)["download"]
    download(
        args.url,
        args.out,
        sha256=args.sha256,
        md5=args.md5,
        size=args.size,
        retries=dl["retries"],
        backoff_s=dl["backoff_s"],
        timeout_s=dl["timeout_s"],
    )
    return 0


COMMANDS = (
    Command(
        "build-data",
        help="build the data set (sequences.npy, genes.tsv, meta.json) of dataset.source",
        description="Build the on-disk data set configured in the 'dataset' section: the planted-grammar "
        "simulator, promoter sequences (FASTA/CSV/TSV) with labels, a genome FASTA with a TSS table and an "
        "expression table, or the Xpresso h5 files. The folder appears complete or not at all.",
        examples=["promoter-cr build-data --config config/config.yaml --out results/simulated/data"],
        options=[config(), out("the data set folder, e.g. results/<dataset>/data")],
        run=run_build_data,
    ),
    Command(
        "download",
        help="download a file (resumable, retried, checksum-verified, atomic)",
        description="Download URL to OUT: resume with HTTP Range, retry with back-off, verify the checksum and "
        "size, rename into place only when complete. A local path or file:// URL is copied. Retry settings "
        "come from the 'download' section of --config (default: the schema's defaults).",
        examples=[
            "promoter-cr download --url https://example.org/train.h5 --out "
            "resources/downloads/xpresso/train.h5 --md5 0123...cdef"
        ],
        options=[
            arg("--url", required=True, help="http(s)/ftp URL, file:// URL or local path"),
            path("--out", "FILE", "destination file", required=True),
            arg("--sha256", default=None, metavar="HEX", help="expected sha256 (64 hex digits)"),
            arg("--md5", default=None, metavar="HEX", help="expected md5 (32 hex digits)"),
            arg("--size", type=int, default=None, metavar="BYTES", help="expected size in bytes"),
            config(required=False),
        ],
        run=run_download,
    ),
)
