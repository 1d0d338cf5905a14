"""Fix: ``TypeError: Block.__init__() got an unexpected keyword argument 'qk_scale'`` (upstream `mae`).

Upstream's MAE model (``examples/data2vec/models/mae.py``, also the backbone of MAE fine-tuning)
builds timm's ``vision_transformer.Block(..., qk_scale=None, ...)``, an argument timm removed after
0.4 (MAE was written against timm 0.3.2). ``qk_scale=None`` always meant the default scale
``head_dim ** -0.5``, which timm's Attention still uses, and the block's parameter names
(norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2) are unchanged, so released MAE checkpoints
load as before. The mae module gets a Block that accepts ``qk_scale=None`` and refuses any other
value (that would change the attention).
"""
from .signature import expect_signature

_block = []


def block_accepting_qk_scale():
    """timm's Block, plus the removed ``qk_scale`` argument (None only)."""
    if not _block:
        from timm.models.vision_transformer import Block

        class MaeBlock(Block):
            def __init__(self, *args, qk_scale=None, **kwargs):
                if qk_scale is not None:
                    raise ValueError(f"qk_scale={qk_scale}: timm's Block no longer takes a custom attention scale")
                super().__init__(*args, **kwargs)

        MaeBlock.__qualname__ = MaeBlock.__name__ = "Block"
        _block.append(MaeBlock)
    return _block[0]


def mae_blocks_without_qk_scale():
    """Upstream's mae module builds its blocks through a timm Block that accepts ``qk_scale=None``."""
    from fairseq.examples.data2vec.models import mae

    if getattr(mae.Block, "_d2v_ext_qk_scale", False):
        return
    expect_signature(mae.MaeModel.__init__, "self, cfg")
    block = block_accepting_qk_scale()
    block._d2v_ext_qk_scale = True
    mae.Block = block
