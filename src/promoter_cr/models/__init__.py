"""Stage 3: models (CR, baselines), Lightning training, checkpoints, inference, metrics."""

#: key of the promoter-cr entry in a Lightning checkpoint (model type and config, data-set meta,
#: package versions, metrics). Here, not in ``lit``, so reading a checkpoint or the metrics
#: never imports Lightning (several seconds per job).
CKPT_KEY = "promoter_cr"
