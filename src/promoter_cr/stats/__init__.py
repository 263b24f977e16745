"""Statistics kernels (arrays in, arrays out), importing nothing else from the package.

``metrics`` (Pearson, Spearman, MSE, R^2 of predictions), ``fdr`` (Benjamini-Hochberg through scipy)
and ``interaction`` (the preferred-spacing, cooperativity and helical-periodicity tests of the
in-silico pair experiments).
"""
