"""Stage 6: motif database, scanning, activity, co-occurrence, spacing, recovery."""
