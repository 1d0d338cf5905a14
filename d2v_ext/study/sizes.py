"""The text encoder's size at a preset (``text_dim``, ``text_ffn``, ``text_layers``, ``text_heads``;
None keeps the recipe's): the overrides that set it in each pretraining recipe and fine-tuning
model, under their own key names, so every method gets the same encoder. data2vec 2.0 fine-tuning
and the SQuAD model read the size from the pretrained checkpoint."""
import math

V1 = "model.transformer.encoder."
KEYS = {  # recipe / fine-tuning model -> the keys of (dim, ffn, layers, heads)
    "text_v1": (V1 + "embed_dim", V1 + "ffn_embed_dim", V1 + "layers", V1 + "attention_heads"),
    "text_mlm": ("model.encoder_embed_dim", "model.encoder_ffn_embed_dim", "model.encoder_layers",
                 "model.encoder_attention_heads"),
    "text_v2": ("model.embed_dim", "model.mlp_ratio", "model.depth", "model.num_heads"),
}
FINETUNE = {"data2vec": "text_v1", "random": "text_v1", "mlm": "text_mlm"}  # fine-tuning model keys


def size_overrides(budget, recipe, pretraining=True):
    """Overrides setting the preset's encoder size in ``recipe`` (a key of KEYS; [] for another), with
    the teacher's averaged layers when ``pretraining``."""
    sizes = [budget.get(k) for k in ("text_dim", "text_ffn", "text_layers", "text_heads")]
    if recipe not in KEYS or not any(sizes):
        return []
    dim, ffn, layers, heads = sizes
    out = []
    for key, value in zip(KEYS[recipe], sizes):
        if value is None:
            continue
        if key == "model.mlp_ratio":  # 2.0 sizes its feed-forward layer as a multiple of the width
            if not dim:
                raise ValueError("text_ffn needs text_dim for data2vec 2.0 (mlp_ratio = ffn / dim)")
            value = ffn / dim
        out.append(f"++{key}={value}")  # ++: a recipe need not list the key (2.0's mlp_ratio is a default)
    if layers and pretraining and recipe != "text_mlm":  # data2vec v1 averages the top 2/3 (8 of 12), 2.0 all
        out.append(f"++model.average_top_k_layers={layers if recipe == 'text_v2' else math.ceil(layers * 2 / 3)}")
    return out
