"""Frozen sentence features from a data2vec v1 text pretraining checkpoint (``data2vec_text`` or
``data2vec_text_dino``): the ``<s>`` token's final representation, or the mean over the sentence's
tokens. ``weights='teacher'`` (default, as DINO's k-NN evaluation) uses the EMA teacher's encoder.
Sentences are GPT-2 BPE encoded with the bundled (or given) BPE files and the checkpoint's dict.txt.
"""
import os
from types import SimpleNamespace

import torch

from ..errors import WrongCheckpointError, load_checked_checkpoint

TEXT_MODELS = ("data2vec_text", "data2vec_text_dino")


def load_text_dictionary(dict_path):
    from fairseq.data import Dictionary

    if not dict_path or not os.path.isfile(dict_path):
        raise FileNotFoundError(f"dictionary not found: {dict_path!r}: pass --dict with the dict.txt of the "
                                "checkpoint's pretraining data (prepare_text.py writes it beside train.bin)")
    d = Dictionary.load(str(dict_path))
    d.add_symbol("<mask>")  # as fairseq's masked_lm task does
    return d


def load_text_encoder(checkpoint, weights="teacher", dict_path=None):
    """(model in eval mode, dictionary): pretraining-only parts removed, teacher weights if asked."""
    from fairseq.models import MODEL_REGISTRY

    state, cfg, name = load_checked_checkpoint(checkpoint, TEXT_MODELS, "data2vec v1 text pretraining")
    dictionary = load_text_dictionary(dict_path or os.path.join(str(cfg.task.data).split(os.pathsep)[0], "dict.txt"))
    params = dict(state["model"])
    rows = params["encoder.sentence_encoder.embed_tokens.weight"].size(0)
    if rows != len(dictionary):
        raise WrongCheckpointError(f"{checkpoint} has a {rows}-symbol embedding but the dictionary gives "
                                   f"{len(dictionary)} (with <mask>): pass the dict.txt of its pretraining data")
    task = SimpleNamespace(source_dictionary=dictionary, cfg=SimpleNamespace(data=""))
    model = MODEL_REGISTRY[name].build_model(cfg.model, task)
    ema = params.pop("encoder._ema", None)
    if weights == "teacher" and ema:
        prefix = "encoder.sentence_encoder."
        params.update({prefix + k: v for k, v in ema.items() if prefix + k in params})
    model.load_state_dict(params, strict=True)
    model.remove_pretraining_modules()
    return model.eval(), dictionary


def encode_sentences(sentences, dictionary, encoder_json, vocab_bpe, max_positions):
    """Token tensors ``<s> bpe... </s>``, truncated to ``max_positions``."""
    from ..data.bpe import encode_lines

    out = []
    for ids in encode_lines(sentences, encoder_json, vocab_bpe):
        body = dictionary.encode_line(ids, append_eos=False, add_if_not_exist=False).long()
        out.append(torch.cat([torch.tensor([dictionary.bos()]), body[:max_positions - 2],
                              torch.tensor([dictionary.eos()])]))
    return out


@torch.no_grad()
def sentence_features(model, tokens, pad, pool="cls", batch_size=128, progress=None):
    """(N, C) float features of a list of token tensors."""
    from fairseq.data import data_utils

    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))  # little padding per batch
    feats = torch.empty(len(tokens), model.cfg.transformer.encoder.embed_dim)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = data_utils.collate_tokens([tokens[i] for i in idx], pad)
        x, _ = model.encoder.extract_features(batch)  # B x T x C
        if pool == "cls":
            f = x[:, 0]
        else:
            keep = batch.ne(pad).unsqueeze(-1).type_as(x)
            f = (x * keep).sum(1) / keep.sum(1)
        feats[idx] = f.float()
        if progress:
            progress(min(start + batch_size, len(order)), len(order))
    return feats
