"""Model ``data2vec_text_qa``: a pretrained data2vec text encoder with a start/end span head.

The encoder comes from ``model_path``: a data2vec v1 ``data2vec_text`` checkpoint, a data2vec
2.0 ``data2vec_multi`` (text) checkpoint or a fairseq ``roberta`` (masked-LM baseline) checkpoint. Its architecture is read from the checkpoint and kept in
``pretrained_model_args``, so a fine-tuned QA checkpoint loads without the pretrained file (the
pattern of upstream's data2vec_text_classification). Pretraining-only parts (EMA teacher,
regression head / decoder, LM head) are removed before the weights are loaded.
"""
import logging
from dataclasses import dataclass, field
from typing import Any

from fairseq.dataclass import FairseqDataclass
from fairseq.models import BaseFairseqModel, build_model, register_model
from omegaconf import MISSING

from ..checkpoint import load_checked
from ..errors import CheckpointMismatchError, ConfigError
from ..modules.span_head import SpanHead

logger = logging.getLogger(__name__)
BACKBONES = ("data2vec_text", "data2vec_text_dino", "data2vec_multi", "roberta")

@dataclass
class Data2VecTextQAConfig(FairseqDataclass):
    model_path: str = field(default=MISSING, metadata={
        "help": "pretrained text checkpoint (v1 data2vec_text, 2.0 data2vec_multi or roberta)"})
    no_pretrained_weights: bool = field(default=False, metadata={
        "help": "random-init control: same architecture, weights not loaded"})
    head_dropout: float = field(default=0.0, metadata={"help": "dropout before the span head (BERT: 0.1 "
                                                                 "inside the encoder, none here)"})
    pretrained_model_args: Any = None


def _keep_in_saved_config(cfg):
    """fairseq builds models from a merged copy of ``cfg.model``; the checkpoint saves the original
    node (the copy's parent's ``model``). Write the encoder's architecture there too, so a QA
    checkpoint rebuilds without the pretrained file."""
    from omegaconf import open_dict

    parent = cfg._get_parent()
    if parent is not None and "model" in parent and parent.model is not cfg:
        with open_dict(parent.model):
            parent.model.pretrained_model_args = cfg.pretrained_model_args


@register_model("data2vec_text_qa", dataclass=Data2VecTextQAConfig)
class Data2VecTextQAModel(BaseFairseqModel):
    def __init__(self, cfg, backbone, pad_idx):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        self.pad_idx = pad_idx
        self.is_v2 = cfg.pretrained_model_args._name == "data2vec_multi"
        self.is_roberta = cfg.pretrained_model_args._name == "roberta"
        self.span_head = SpanHead(self.embed_dim(), cfg.head_dropout)

    def embed_dim(self):
        m = self.cfg.pretrained_model_args
        if self.is_roberta:
            return m.encoder_embed_dim
        return m.embed_dim if self.is_v2 else m.transformer.encoder.embed_dim

    def backbone_positions(self):
        m = self.cfg.pretrained_model_args
        return m.modalities.text.max_source_positions if self.is_v2 else m.max_positions

    @classmethod
    def build_model(cls, cfg, task):
        state = None
        if cfg.pretrained_model_args is None:
            state = load_checked(cfg.model_path, "pretrained data2vec text", models=BACKBONES,
                                 hint=" (model.model_path)")
            cfg.pretrained_model_args = state["cfg"].model
            _keep_in_saved_config(cfg)
        backbone = build_model(cfg.pretrained_model_args, task, from_checkpoint=True)
        if cfg.pretrained_model_args._name == "data2vec_multi":
            backbone.remove_pretraining_modules(modality="text")
        elif cfg.pretrained_model_args._name == "roberta":
            backbone.encoder.lm_head = None  # the masked-LM output layer; features come before it
        else:
            backbone.remove_pretraining_modules()
        model = cls(cfg, backbone, task.source_dictionary.pad())
        if model.backbone_positions() < task.cfg.max_seq_len:
            raise ConfigError(f"task.max_seq_len={task.cfg.max_seq_len} exceeds the encoder's "
                             f"{model.backbone_positions()} positions; lower task.max_seq_len")
        if state is not None and not cfg.no_pretrained_weights:
            model.load_backbone(state["model"], len(task.source_dictionary))
        return model

    def load_backbone(self, weights, dict_size):
        own = self.backbone.state_dict()
        for k, v in weights.items():
            if k.endswith("embed_tokens.weight") and k in own and v.size(0) != dict_size:
                raise CheckpointMismatchError(
                    f"{self.cfg.model_path} was pretrained with a {v.size(0)}-symbol dictionary but "
                    f"task.dict_file gives {dict_size} (with <mask>): use the dict.txt of its pretraining data")
        kept = {k: v for k, v in weights.items() if k in own}
        missing = sorted(set(own) - set(kept))
        if missing:
            raise CheckpointMismatchError(f"{self.cfg.model_path} lacks encoder weights {missing[:5]}...")
        dropped = sorted(set(weights) - set(kept))
        logger.info(f"data2vec_text_qa: loaded {len(kept)} encoder tensors from {self.cfg.model_path}; "
                    f"dropped {len(dropped)} pretraining-only ({', '.join(sorted({k.split('.')[1] if k.startswith('encoder.') else k.split('.')[0] for k in dropped}))})")
        self.backbone.load_state_dict(kept, strict=True)

    def features(self, src_tokens):
        if self.is_v2:
            from fairseq.examples.data2vec.data.modality import Modality

            out = self.backbone(src_tokens, mode=Modality.TEXT, padding_mask=src_tokens.eq(self.pad_idx),
                                mask=False, features_only=True, remove_extra_tokens=True)
            return out["x"]
        return self.backbone.encoder.extract_features(src_tokens)[0]

    def forward(self, src_tokens, span_mask=None, **unused):
        start, end = self.span_head(self.features(src_tokens), span_mask)
        return {"start_logits": start, "end_logits": end}
