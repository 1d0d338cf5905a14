"""Start/end span head for extractive QA (BERT's SQuAD head): one linear layer, two logits per token."""
import torch
import torch.nn as nn


class SpanHead(nn.Module):
    def __init__(self, embed_dim, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(embed_dim, 2)
        nn.init.normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, features, span_mask=None):
        """features (B, T, C) -> (start_logits, end_logits), each (B, T) in float32. Positions where
        ``span_mask`` is False (question, separators, padding) get -inf-like logits."""
        logits = self.proj(self.dropout(features)).float()
        start, end = logits.unbind(dim=-1)
        if span_mask is not None:
            neg = torch.finfo(start.dtype).min
            start = start.masked_fill(~span_mask, neg)
            end = end.masked_fill(~span_mask, neg)
        return start, end
