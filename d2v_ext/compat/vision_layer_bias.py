"""Fix: data2vec v1 vision crashes with a relative position bias per layer (``shared_rel_pos_bias: false``).

Upstream's ``Attention.forward`` has ``assert 1==2`` in the per-layer branch (and then prints
``rel_pos_bias.size()`` on ``None``), so only the shared table of pretraining works. The released
ImageNet fine-tunes (and transformers' ``Data2VecVisionForImageClassification``) use one table per
layer. The block's own bias is now computed as upstream's dead branch describes (the table indexed by
the layer's relative-position index) and passed in as the bias, added to a shared one if both exist.
"""
from .signature import install_wrapper


def layer_bias(attn):
    """(1, heads, N, N) bias of a layer's own relative-position table (N = patches + 1)."""
    n = attn.window_size[0] * attn.window_size[1] + 1
    table = attn.relative_position_bias_table[attn.relative_position_index.view(-1)]
    return table.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)


def vision_per_layer_position_bias():
    """Let v1 vision's attention use its own relative-position table."""
    from fairseq.examples.data2vec.models.data2vec_vision import Attention

    def wrap(original):
        def forward(self, x, rel_pos_bias=None):
            table = self.relative_position_bias_table
            if table is None:
                return original(self, x, rel_pos_bias)
            own = layer_bias(self)
            bias = own if rel_pos_bias is None else own + rel_pos_bias
            self.relative_position_bias_table = None  # skip upstream's dead branch (assert 1==2)
            try:
                return original(self, x, bias)
            finally:
                self.relative_position_bias_table = table

        return forward

    install_wrapper(Attention, "forward", "self, x, rel_pos_bias=None", wrap, "layer_bias")
