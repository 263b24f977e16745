"""Sequence-level kernels that every floor may use, importing nothing above them
(only the base modules ``errors``, ``atomic`` and ``config``).

``encoding`` (uint8 codes, one-hot, reverse complement), ``chromosomes`` (name aliases), ``motifs``
(motif matrices, MEME I/O, JASPAR through pyjaspar) and ``tomtom`` (motif similarity through
memelite). The data sources (the simulator too), the models and the motif stages import from here.
"""
