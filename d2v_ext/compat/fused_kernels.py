"""Which fused kernels are in use: apex's when importable, else torch's native fused paths."""
import importlib
import logging

logger = logging.getLogger("d2v_ext")


def fused_kernel_report():
    """Name the LayerNorm and Adam implementations fairseq will use on this machine."""
    import torch
    import fairseq.modules.layer_norm as fairseq_ln
    import fairseq.optim.adam as fairseq_adam

    cuda = torch.cuda.is_available()
    adam_cls = fairseq_adam.get_fused_adam_class()
    if not cuda:
        adam = "fairseq Adam (CPU loop; fused kernels need CUDA)"
    elif adam_cls is None:
        adam = "fairseq Adam (python loop)"
    elif adam_cls.__name__ == "TorchFusedAdamW":
        adam = "torch AdamW(fused=True)"
    else:
        adam = f"apex {adam_cls.__name__}"
    ln = "apex FusedLayerNorm" if (fairseq_ln.has_fused_layernorm and cuda) else "torch LayerNorm"
    return {"layer_norm": ln, "adam": adam, "cuda": cuda, "apex": _importable("apex")}


def _importable(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:  # broken apex builds fail in many ways; any failure means "not usable"
        return False


def log_fused_kernels():
    """Log one start-up line saying which fused kernels are in use."""
    from ..fast import requested

    r = fused_kernel_report()
    logger.info(f"d2v_ext kernels: layer_norm={r['layer_norm']}, adam={r['adam']}, "
                f"apex={'yes' if r['apex'] else 'no'}, cuda={r['cuda']}, fast paths={','.join(requested()) or 'none'}")
