"""Stages 4-5: weighted features, their faithfulness, clustering of genes."""
