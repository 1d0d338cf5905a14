"""Model ``data2vec_text_dino``: upstream's data2vec v1 text model with the target switch.

- ``target=data2vec``: upstream behaviour (regression of the teacher's top-K layers at masked tokens).
- ``target=dino``: two masked views of each sequence (the masked_lm task's view and a second one
  masked here with ``dino_mask_prob``); DINO's loss on the sentence (``<s>``) representation:
  student = encoder + DINOHead on both views, teacher = the EMA encoder + an EMA head on both views,
  cross-view pairs only.
- ``target=both``: data2vec_weight * regression + dino_weight * DINO.

The teacher momentum is upstream's linear anneal (ema_decay -> ema_end_decay); the teacher head
follows the encoder's decay; the teacher temperature warms up with the update number.
"""
from dataclasses import dataclass, field

import torch
from fairseq.models import register_model

from fairseq.examples.data2vec.models.data2vec_text import (Data2VecTextConfig, Data2VecTextEncoder,
                                                            Data2VecTextModel)

from .data2vec_dino import DinoTargetConfig, build_dino_objective, current_teacher_temp


@dataclass
class Data2VecTextDinoConfig(Data2VecTextConfig, DinoTargetConfig):
    dino_mask_prob: float = field(default=0.15, metadata={
        "help": "share of tokens replaced by <mask> in the second view (masked_lm's view is the first)"})


@register_model("data2vec_text_dino", dataclass=Data2VecTextDinoConfig)
class Data2VecTextDinoModel(Data2VecTextModel):
    def __init__(self, cfg, encoder):
        super().__init__(cfg, encoder)
        self.dino = None
        self.num_updates = 0
        if cfg.target in ("dino", "both"):
            self.dino = build_dino_objective(cfg, cfg.transformer.encoder.embed_dim)

    @classmethod
    def build_model(cls, cfg, task):
        return cls(cfg, Data2VecTextEncoder(cfg, task.source_dictionary, task.cfg.data))

    def set_num_updates(self, num_updates):
        super().set_num_updates(num_updates)  # the encoder builds / steps its EMA teacher
        ema = self.encoder.ema
        if self.training and self.dino is not None and ema is not None and ema.get_decay() < 1:
            self.dino.teacher_step(ema.get_decay())
        self.num_updates = num_updates

    def second_view(self, tokens):
        """``tokens`` with ``dino_mask_prob`` of the non-special tokens replaced by <mask>."""
        enc = self.encoder
        special = tokens.eq(enc.dictionary.pad()) | tokens.eq(enc.dictionary.bos()) | tokens.eq(enc.dictionary.eos())
        pick = (torch.rand(tokens.shape, device=tokens.device) < self.cfg.dino_mask_prob) & ~special
        return tokens.masked_fill(pick, enc.mask_idx)

    def dino_forward(self, src_tokens, target_tokens):
        views = torch.cat([src_tokens, self.second_view(target_tokens)])
        student, _ = self.encoder.extract_features(views)
        with torch.no_grad():
            self.encoder.ema.model.eval()
            teacher = self.encoder.ema.model(views)["encoder_out"][0][0]  # T x B x C -> <s> of each view
        loss, monitors = self.dino(student[:, 0], teacher, current_teacher_temp(self.cfg, self.num_updates),
                                   n_global=2, update_center=self.training)
        return loss, {**monitors, "target_var": float(teacher.float().std(0).mean())}

    def forward(self, src_tokens, target_tokens=None, features_only=False, return_all_hiddens=False,
                classification_head_name=None, **kwargs):
        if features_only or target_tokens is None or classification_head_name is not None:
            return super().forward(src_tokens, target_tokens, features_only, return_all_hiddens,
                                   classification_head_name, **kwargs)
        result = {"losses": {}, "sample_size": 1, "logs": {}}
        if self.cfg.target in ("data2vec", "both"):
            result = super().forward(src_tokens, target_tokens, **kwargs)
            result["losses"] = {"main": result["losses"]["main"] * self.cfg.data2vec_weight}
        if self.cfg.target in ("dino", "both"):
            loss, monitors = self.dino_forward(src_tokens, target_tokens)
            result["losses"]["dino"] = loss * self.cfg.dino_weight * result["sample_size"]
            result["logs"] = {**result.get("logs", {}), **monitors,
                              "ema_decay": self.encoder.ema.get_decay() * 1000}
        return result
