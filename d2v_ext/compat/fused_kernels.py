"""Which fused kernels are in use: apex's when importable, else torch's native paths."""
import importlib.util
import logging

logger = logging.getLogger("d2v_ext")


def fused_kernel_report():
    """Return a dict naming the LayerNorm and Adam implementations fairseq will use here."""
    has_apex_ln = importlib.util.find_spec("apex") is not None and _importable("apex.normalization")
    has_apex_adam = _importable("apex.optimizers")
    import torch

    cuda = torch.cuda.is_available()
    return {
        "layer_norm": "apex FusedLayerNorm" if has_apex_ln and cuda else "torch.nn.LayerNorm",
        "adam": "apex FusedAdam" if has_apex_adam and cuda else
                ("torch Adam(fused=True)" if cuda else "torch Adam (CPU)"),
        "cuda": cuda,
    }


def _importable(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:  # apex installs can be broken in many ways; any failure means "not usable"
        return False


def log_fused_kernels():
    """Log one start-up line saying which fused kernels are in use."""
    r = fused_kernel_report()
    logger.info(f"d2v_ext fused kernels: layer_norm={r['layer_norm']}, adam={r['adam']}, cuda={r['cuda']}")
