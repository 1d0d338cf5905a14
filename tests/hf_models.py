"""Small random transformers models for the conversion tests (no downloads).

Every parameter is redrawn to O(1) values first: transformers initialises LayerNorms to 1 / 0 and
biases to 0, and a mapping that swaps two of those would go unnoticed. Matrices get N(0, 1/fan_in)
(outputs of size 1, so activations stay O(1) through the layers), vectors N(0, 0.5^2) (LayerNorm
weights around 1), embeddings N(0, 1). The key bias of v1 vision stays 0: BEiT has none.
"""
import json
from pathlib import Path

import torch

TEXT_CLASSES = {"text": "Data2VecTextModel", "text_cls": "Data2VecTextForSequenceClassification",
                "text_qa": "Data2VecTextForQuestionAnswering", "roberta": "RobertaModel",
                "roberta_mlm": "RobertaForMaskedLM", "roberta_cls": "RobertaForSequenceClassification"}
VISION_CLASSES = {"vision": "Data2VecVisionModel", "vision_cls": "Data2VecVisionForImageClassification"}


def redraw(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("attention.attention.key.bias"):
                continue
            r = torch.randn(p.shape, generator=g)
            if p.dim() >= 2 and "embedding" not in name and "token" not in name:
                p.copy_(r * p[0].numel() ** -0.5)
            else:
                norm = "layernorm" in name.lower() or "layer_norm" in name
                p.copy_(r * 0.5 + (1.0 if norm and name.endswith("weight") else 0.0))
    return model


def text_model(kind, vocab_size, layers=2, dim=32, heads=2, ffn=64, positions=130, seed=0):
    import transformers

    config_cls = transformers.RobertaConfig if kind.startswith("roberta") else transformers.Data2VecTextConfig
    cfg = config_cls(vocab_size=vocab_size, hidden_size=dim, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=ffn, max_position_embeddings=positions, type_vocab_size=1, layer_norm_eps=1e-5,
                     pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=2 if kind == "text_qa" else 3,
                     attn_implementation="eager")
    return redraw(getattr(transformers, TEXT_CLASSES[kind])(cfg), seed).eval()


def vision_model(kind, seed=0):
    import transformers

    shared = kind == "vision"
    cfg = transformers.Data2VecVisionConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, image_size=32, patch_size=8,
        layer_norm_eps=1e-5, use_shared_relative_position_bias=shared, use_relative_position_bias=not shared,
        use_mask_token=shared, use_mean_pooling=not shared, num_labels=10, drop_path_rate=0.0, layer_scale_init_value=0.1,
        attn_implementation="eager")
    model = transformers.Data2VecVisionModel(cfg, add_pooling_layer=False) if shared else \
        transformers.Data2VecVisionForImageClassification(cfg)
    return redraw(model, seed).eval()


def gpt2_vocab(symbols, encoder_json):
    """vocab.json content for a fairseq dictionary's symbols (the ids transformers would use)."""
    from d2v_ext.convert.vocab import gpt2_token_strings, hf_vocab_for_dictionary

    return hf_vocab_for_dictionary(symbols, gpt2_token_strings(encoder_json))


def save(model, folder, vocab=None):
    folder = Path(folder)
    model.save_pretrained(str(folder))
    if vocab is not None:
        (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    return folder


def state_of(folder):
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))
