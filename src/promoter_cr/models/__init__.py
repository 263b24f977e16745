"""Stage 3: models (CR, baselines), Lightning training, checkpoints, inference, metrics."""
