"""Checkpoints between fairseq and transformers (data2vec v1 text and vision, RoBERTa), verified numerically."""
