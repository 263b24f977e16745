"""A tiny CR learns a fresh ``hard`` grammar (the simulator's planted motifs, pairs and composition)."""

from __future__ import annotations

import torch

from promoter_cr.config import validate_config
from promoter_cr.data.sources import build_dataset
from promoter_cr.models.train import train_model

torch.set_num_threads(1)


def test_tiny_cr_learns_a_hard_grammar_and_beats_the_kmer_ridge(tmp_path):
    """2,400 x 400 bp of the ``hard`` preset (seed 91, used nowhere else), 16 filters, 30 epochs (about 40 s).

    Measured when written: CR test r 0.772, k-mer ridge 0.749 (training is deterministic).
    """
    cfg = validate_config(
        {
            "results_dir": str(tmp_path),
            "dataset": {"name": "h", "simulate": {"preset": "hard", "seed": 91, "n_genes": 2400, "length": 400}},
            "models": {
                "cr": {"type": "cr", "max_epochs": 30, "min_steps": 0, "channels": 16},
                "kmer": {"type": "kmer_ridge"},
            },
            "train": {"accelerator": "cpu", "devices": 1},
        },
        semantics=False,
    )
    data = tmp_path / "data"
    build_dataset(cfg, data)
    cr = train_model(cfg, "cr", data, tmp_path / "cr")["splits"]["test"]["pearson_r"]
    ridge = train_model(cfg, "kmer", data, tmp_path / "kmer")["splits"]["test"]["pearson_r"]
    assert cr > 0.7, cr
    assert cr > ridge, (cr, ridge)
