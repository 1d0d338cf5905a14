"""Fix: without apex, fairseq's ``adam`` runs its per-parameter Python loop even on a GPU.

``FairseqAdam`` uses the class returned by ``fairseq.optim.adam.get_fused_adam_class()`` when it is
not None and CUDA is available; that function only knows apex. When apex's FusedAdam is not
importable we return :class:`TorchFusedAdamW`: ``torch.optim.AdamW(fused=True)``, the same
decoupled-weight-decay update as apex's FusedAdam (adam_w_mode) in one fused kernel.
On CPU-only machines nothing changes: fairseq still requires CUDA before taking a fused class.
"""
import torch

from .signature import expect_signature


class TorchFusedAdamW(torch.optim.AdamW):
    """torch's fused AdamW with the constructor fairseq passes to apex's FusedAdam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 use_fp16_stats=False, amsgrad=False, **unused):
        if use_fp16_stats:
            raise NotImplementedError("--fp16-adam-stats needs apex's FusedAdamV1")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps,
                         weight_decay=weight_decay, amsgrad=amsgrad, fused=True)

    # fairseq's FP16Optimizer may hand us one flat fp32 tensor; the fused kernel handles it.
    supports_flat_params = True
    # MemoryEfficientFP16Optimizer would keep Adam state in fp16 here (apex keeps it in fp32).
    supports_memory_efficient_fp16 = False


def torch_fused_adam_fallback():
    """When apex's FusedAdam is unavailable, let fairseq's ``adam`` use torch's fused AdamW."""
    import fairseq.optim.adam as fairseq_adam

    apex_lookup = fairseq_adam.get_fused_adam_class
    if getattr(apex_lookup, "_d2v_ext_fixed", False):
        return
    expect_signature(apex_lookup, "")
    if apex_lookup() is not None:
        return  # apex is importable: fairseq already uses its fused kernels

    def get_fused_adam_class():
        return TorchFusedAdamW

    get_fused_adam_class._d2v_ext_fixed = True
    fairseq_adam.get_fused_adam_class = get_fused_adam_class
