"""Stage 1-2: encoding, the on-disk data set, splits, downloads, readers and sources."""
