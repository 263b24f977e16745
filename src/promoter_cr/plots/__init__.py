"""Figures, drawn from the results tables alone (no model is loaded).

One module per stage (``models``, ``attribution``, ``clusters``, ``motifs``, ...);
:mod:`promoter_cr.plots.style` holds the shared look and the atomic saver.
"""
