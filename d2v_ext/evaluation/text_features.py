"""Frozen sentence features from a data2vec v1 text pretraining checkpoint (``data2vec_text`` or
``data2vec_text_dino``): the ``<s>`` token's final representation, or the mean over the sentence's
tokens. ``weights='teacher'`` (default, as DINO's k-NN evaluation) uses the EMA teacher's encoder.
Every checkpoint is built as ``data2vec_text_dino`` (with ``target=data2vec`` it is upstream's model)
and read through its ``forward_features``. Sentences are GPT-2 BPE encoded with the bundled (or
given) BPE files and the checkpoint's dict.txt.
"""
import os
from types import SimpleNamespace

import torch

from ..checkpoint import load_checked, with_teacher_weights
from ..checkpoint.configs import model_config_as
from ..data.dictionary import load_dictionary
from ..errors import CheckpointMismatchError

TEXT_MODELS = ("data2vec_text", "data2vec_text_dino")
PRETRAINING_ONLY = ("dino.", "encoder.regression_head.", "encoder.lm_head.")


def load_text_dictionary(dict_path, flag="--dict"):
    """The checkpoint's dict.txt plus ``<mask>``, as fairseq's masked_lm task builds it."""
    return load_dictionary(dict_path, flag, add_mask=True)


def load_text_encoder(checkpoint, weights="teacher", dict_path=None):
    """(model in eval mode, dictionary): pretraining-only parts removed, teacher weights if asked."""
    from ..models.data2vec_text_dino import Data2VecTextDinoConfig, Data2VecTextDinoModel

    state = load_checked(checkpoint, "data2vec v1 text pretraining", models=TEXT_MODELS)
    cfg = state["cfg"]
    flag = "--dict" if dict_path else f"the checkpoint's task.data ({cfg.task.data})"
    dictionary = load_text_dictionary(dict_path or os.path.join(str(cfg.task.data).split(os.pathsep)[0], "dict.txt"),
                                      flag)
    params = dict(state["model"])
    rows = params["encoder.sentence_encoder.embed_tokens.weight"].size(0)
    if rows != len(dictionary):
        raise CheckpointMismatchError(f"{checkpoint} has a {rows}-symbol embedding but the dictionary gives "
                                      f"{len(dictionary)} (with <mask>): pass the dict.txt of its pretraining data")
    model_cfg = model_config_as(Data2VecTextDinoConfig, cfg.model, target="data2vec")
    model = Data2VecTextDinoModel.build_model(model_cfg, SimpleNamespace(source_dictionary=dictionary,
                                                                          cfg=SimpleNamespace(data="")))
    ema = params.pop("encoder._ema", None)
    params = {k: v for k, v in params.items() if not k.startswith(PRETRAINING_ONLY)}  # a headless checkpoint lacks them
    if weights == "teacher":
        if ema is None:
            raise CheckpointMismatchError(f"{checkpoint} holds no EMA teacher (encoder._ema): use --weights student")
        params = with_teacher_weights(params, ema, "encoder.sentence_encoder.")
    model.remove_pretraining_modules()
    model.load_state_dict(params, strict=True)  # every encoder tensor, nothing else
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
    """(N, C) float features of a list of token tensors (batched by length, little padding)."""
    from fairseq.data import data_utils

    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    feats = torch.empty(len(tokens), model.cfg.transformer.encoder.embed_dim)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        feats[idx] = model.forward_features(data_utils.collate_tokens([tokens[i] for i in idx], pad), pool).float()
        if progress:
            progress(min(start + batch_size, len(order)), len(order))
    return feats
