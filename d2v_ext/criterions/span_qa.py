"""Criterion ``span_qa``: cross-entropy on the start and on the end position, logged separately.

loss = (CE(start) + CE(end)) / 2 per window, summed over the batch; sample_size = windows.
Logged in bits as fairseq does: loss, start_loss, end_loss; plus start_acc / end_acc (%).
"""
import math

import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion


@register_criterion("span_qa")
class SpanQACriterion(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        out = model(**sample["net_input"])
        start_t, end_t = sample["start_positions"], sample["end_positions"]
        start_loss = F.cross_entropy(out["start_logits"], start_t, reduction="sum")
        end_loss = F.cross_entropy(out["end_logits"], end_t, reduction="sum")
        loss = (start_loss + end_loss) / 2
        n = start_t.numel()
        log = {
            "loss": loss.data, "start_loss": start_loss.data, "end_loss": end_loss.data,
            "ntokens": sample["ntokens"], "nsentences": n, "sample_size": n,
            "start_correct": (out["start_logits"].argmax(-1) == start_t).sum().item(),
            "end_correct": (out["end_logits"].argmax(-1) == end_t).sum().item(),
        }
        return loss, n, log

    @staticmethod
    def reduce_metrics(logging_outputs):
        n = sum(x.get("sample_size", 0) for x in logging_outputs)
        for key in ("loss", "start_loss", "end_loss"):
            total = sum(x.get(key, 0) for x in logging_outputs)
            metrics.log_scalar(key, total / max(n, 1) / math.log(2), n, round=3)
        for key in ("start", "end"):
            correct = sum(x.get(f"{key}_correct", 0) for x in logging_outputs)
            metrics.log_scalar(f"{key}_acc", 100.0 * correct / max(n, 1), n, round=2)

    @staticmethod
    def logging_outputs_can_be_summed():
        return True
