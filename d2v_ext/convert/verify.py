"""Numerical check of a conversion: the fairseq model and the transformers model on the same real input.

The fairseq side is built the way fairseq builds it (its task from the checkpoint's task config, then
``task.build_model``; pretraining models without their pretraining-only modules) and loaded with
``strict=True``; the transformers side runs with eager attention (the same matmul-softmax-matmul as
fairseq; SDPA reorders the arithmetic). Returned: {output name: max |fairseq - transformers|} for
every hidden layer (``layer_0`` is the embedding output) and the task outputs (logits).
"""
import os
from types import SimpleNamespace

import torch
from omegaconf import OmegaConf

from ..checkpoint import checkpoint_kind, model_config
from ..checkpoint.configs import model_config_as
from ..errors import MissingInputError
from ..paths import default_gpt2_bpe_files, shared_data_dir
from .fairseq_side import data2vec2_text_hidden_states, fairseq_hidden_states, fairseq_vision_hidden_states

TOLERANCE = 1e-5  # float32 sums in another order; a wrong mapping is off by O(1)


def relative_error(difference, scale):
    """The difference measured against the output's size where it exceeds 1 (float32 keeps ~7 digits,
    so logits of size 20 differ by ~1e-5 after a reordered sum); absolute below."""
    return difference / max(1.0, scale)


def worst(differences):
    return max(relative_error(d, s) for d, s in differences.values())


def sst2_sentences(n=8):
    path = shared_data_dir() / "glue" / "SST-2" / "dev.tsv"
    if not path.is_file():
        raise MissingInputError(f"{path}: not found; the check runs on bundled SST-2 sentences (set D2V_EXT_DATA)")
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return [r.split("\t")[0] for r in rows[:: max(1, len(rows) // n)][:n]]


def cifar_images(size, n=8):
    from PIL import Image

    from ..evaluation.vision_features import eval_transform

    root = shared_data_dir() / "images" / "cifar10" / "val"
    files = sorted(root.glob("*/*"))
    if not files:
        raise MissingInputError(f"{root}: no images; the check runs on bundled CIFAR-10 images (set D2V_EXT_DATA)")
    tf = eval_transform(size)
    with torch.no_grad():
        return torch.stack([tf(Image.open(f).convert("RGB")) for f in files[:: max(1, len(files) // n)][:n]])


def text_batch(dictionary, max_positions):
    from fairseq.data import data_utils

    from ..evaluation.text_features import encode_sentences

    enc, voc = default_gpt2_bpe_files()
    tokens = encode_sentences(sst2_sentences(), dictionary, enc, voc, max_positions)
    return data_utils.collate_tokens(tokens, dictionary.pad())


def build_task_model(state, data_dir):
    """(model, task) of a fine-tuning checkpoint, built by its task with ``task.data = data_dir``."""
    import copy

    from fairseq import tasks
    from omegaconf import open_dict

    cfg = state["cfg"] if OmegaConf.is_config(state["cfg"]) else OmegaConf.create(state["cfg"])
    cfg = copy.deepcopy(cfg)  # (an args-era model config stays a Namespace inside: allow_objects)
    with open_dict(cfg):
        cfg.task.data = str(data_dir)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    model.load_state_dict(state["model"], strict=True)
    return model.eval(), task


def diffs(fairseq_outputs, hf_outputs, mask=None):
    """{name: (max |fairseq - transformers|, max |transformers|)} over the non-padding positions."""
    out = {}
    for name in fairseq_outputs:
        a, b = fairseq_outputs[name].float(), hf_outputs[name].float()
        padded = mask is not None and tuple(a.shape[:2]) == tuple(mask.shape)
        if padded:  # padding positions are not outputs (fairseq zeroes them, transformers does not)
            a, b = a[mask], b[mask]
        out[name] = (float((a - b).abs().max()), float(b.abs().max()))
    return out


def text_differences(state, hf_model, dictionary, data_dir, rows=None):
    """Max differences per layer (and logits) of a text checkpoint and its transformers model.
    ``rows[i]``: the transformers id of fairseq symbol i (None: the same ids)."""
    from fairseq.examples.data2vec.models.data2vec2 import Data2VecMultiConfig, Data2VecMultiModel

    from .fairseq_side import build_text_encoder

    model_name, task_name = checkpoint_kind(state)
    hf_model = hf_model.eval()
    positions = hf_model.config.max_position_embeddings - 2
    tokens = text_batch(dictionary, min(positions, 128))
    mask = tokens.ne(dictionary.pad())
    with torch.no_grad():
        ids = tokens if rows is None else torch.as_tensor(rows)[tokens]
        hf = hf_model(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True)
    hf_out = {f"layer_{i}": h for i, h in enumerate(hf.hidden_states)}
    task = SimpleNamespace(source_dictionary=dictionary, cfg=SimpleNamespace(data=""))
    head = {}
    if model_name == "data2vec_multi":
        fs = Data2VecMultiModel.build_model(model_config_as(Data2VecMultiConfig, state["cfg"]["model"]), task)
        fs.load_state_dict(state["model"], strict=False)  # the EMA teacher is restored separately; not compared
        hidden = data2vec2_text_hidden_states(fs.eval(), tokens, dictionary.pad())
    elif task_name in ("masked_lm", None) and model_name in ("data2vec_text", "data2vec_text_dino"):
        fs = build_text_encoder(OmegaConf.create(state["cfg"]["model"]), dictionary)
        own = fs.state_dict()
        fs.load_state_dict({k: v for k, v in state["model"].items() if k in own}, strict=True)
        hidden = fairseq_hidden_states(fs.encoder.sentence_encoder, tokens)
    else:
        fs, _ = build_task_model(state, data_dir)
        if model_name == "data2vec_text_qa":
            hidden = fairseq_hidden_states(fs.backbone.encoder.sentence_encoder, tokens)
            with torch.no_grad():
                out = fs(tokens)
            head = {"start_logits": out["start_logits"], "end_logits": out["end_logits"]}
            hf_out.update(start_logits=hf.start_logits, end_logits=hf.end_logits)
        elif model_name == "data2vec_text_classification":
            with torch.no_grad():
                logits, _ = fs(tokens, id=None, padding_mask=~mask, classification_head_name=head_name(fs))
            hidden = data2vec2_text_hidden_states(fs.model, tokens, dictionary.pad())
            head, hf_out["logits"] = {"logits": logits}, hf.logits
        else:  # roberta / data2vec_text: encoder.sentence_encoder, classification or LM head
            hidden = fairseq_hidden_states(fs.encoder.sentence_encoder, tokens)
            with torch.no_grad():
                if task_name == "sentence_prediction":
                    head = {"logits": fs(tokens, features_only=True, classification_head_name=head_name(fs))[0]}
                    hf_out["logits"] = hf.logits
                elif hasattr(hf, "logits") and hf.logits is not None and model_name == "roberta":
                    head = {"logits": fs(tokens)[0]}
                    hf_out["logits"] = hf.logits
    fs_out = {f"layer_{i}": h for i, h in enumerate(hidden)}
    fs_out.update(head)
    return diffs(fs_out, hf_out, mask)


def head_name(model):
    return next(iter(model.classification_heads))


def vision_differences(state, hf_model, data_dir):
    """Max differences per layer (and logits) of a v1 vision checkpoint and its transformers model."""
    from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionConfig, Data2VecVisionModel

    from .vision_convert import backbone_config

    model_name, _ = checkpoint_kind(state)
    m = backbone_config(model_config(state))
    images = cifar_images(m["image_size"])
    hf_model = hf_model.eval()
    with torch.no_grad():
        hf = hf_model(pixel_values=images, output_hidden_states=True)
    hf_out = {f"layer_{i}": h for i, h in enumerate(hf.hidden_states)}
    if model_name == "data2vec_image_classification":
        if not os.path.isdir(str(data_dir)):
            raise MissingInputError(f"{data_dir}: not a folder; the classification model is built by its task "
                                    "(an ImageFolder root)")
        cfg = OmegaConf.create(state["cfg"])
        cfg.model.mixup, cfg.model.cutmix, cfg.model.data = 0.0, 0.0, str(data_dir)
        fs, _ = build_task_model({**state, "cfg": OmegaConf.to_container(cfg)}, data_dir)
        hidden = fairseq_vision_hidden_states(fs.model, images)
        with torch.no_grad():
            fs_out = {"logits": fs(images)}
        hf_out["logits"] = hf.logits
    else:
        base = OmegaConf.structured(Data2VecVisionConfig)
        cfg = OmegaConf.merge(base, {k: v for k, v in m.items() if k in base and k != "ema_anneal_end_step"})
        cfg.ema_anneal_end_step = 0
        fs = Data2VecVisionModel(cfg).eval()
        own = fs.state_dict()
        fs.load_state_dict({k: v for k, v in state["model"].items() if k in own}, strict=True)
        hidden = fairseq_vision_hidden_states(fs, images)
        fs_out = {}
        if getattr(hf, "last_hidden_state", None) is not None and "layernorm.weight" in hf_model.state_dict():
            with torch.no_grad():
                fs_out["final_norm"] = fs.encoder.norm(hidden[-1])
            hf_out["final_norm"] = hf.last_hidden_state
    fs_out.update({f"layer_{i}": h for i, h in enumerate(hidden)})
    return diffs(fs_out, hf_out)

