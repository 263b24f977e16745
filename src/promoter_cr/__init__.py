"""promoter_cr: Contextual Regression of mRNA abundance from promoter sequence.

The package is organised one module per concern:

- :mod:`promoter_cr.seq.encoding`   sequence <-> uint8 codes <-> one-hot
- :mod:`promoter_cr.errors`     the error types that name the offending file and record
- :mod:`promoter_cr.atomic`     atomic file and directory writes
- :mod:`promoter_cr.data.dataset`    the on-disk data set (sequences.npy, genes.tsv, meta.json) and splits
- :mod:`promoter_cr.config`     YAML config loading and JSON-schema validation with defaults
- :mod:`promoter_cr.data.download`   checksummed, resumable downloads with retries
- :mod:`promoter_cr.data.sources`    data sources: simulate, fasta, genome, xpresso
- :mod:`promoter_cr.models.cr`, :mod:`promoter_cr.models.train`, ...  modelling and analysis stages
"""

__version__ = "0.1.0"
