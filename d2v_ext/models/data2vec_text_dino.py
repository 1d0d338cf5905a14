"""Model ``data2vec_text_dino``: upstream's data2vec v1 text model with the target switch.

- ``target=data2vec``: upstream behaviour (regression of the teacher's top-K layers at masked tokens).
- ``target=dino``: two masked views of each sequence: the masked_lm task's view (the data2vec
  student's input) and a second one masked here, independently, from the unmasked sequence with
  ``dino_mask_prob`` (special tokens are never masked). DINO's loss on the sentence (``<s>``)
  representation: student = encoder + DINOHead on both views; teacher = the EMA encoder + an EMA copy
  of the head on both views; cross-view pairs only. The unused regression head is frozen.
- ``target=both``: data2vec_weight * regression + dino_weight * DINO.

The teacher momentum is upstream's linear anneal (ema_decay -> ema_end_decay); the teacher head
follows the encoder's decay; the teacher temperature warms up with the update number. Collapse
monitors are logged with the loss: teacher_entropy, teacher_student_kl, center_norm,
prototypes_used, dino_target_var (std of the teacher's <s> features across the batch; also
``target_var`` when target=dino), teacher_temp.
"""
from dataclasses import dataclass, field

import torch
from fairseq.models import register_model

from fairseq.examples.data2vec.models.data2vec_text import (Data2VecTextConfig, Data2VecTextEncoder,
                                                            Data2VecTextModel)

from ..data.masked_lm import unmasked_tokens
from ..errors import ConfigError
from ..modules.dino_config import DinoTargetConfig, build_dino_objective, current_teacher_temp


@dataclass
class Data2VecTextDinoConfig(Data2VecTextConfig, DinoTargetConfig):
    dino_mask_prob: float = field(default=0.15, metadata={
        "help": "share of tokens replaced by <mask> in the second view (masked_lm's view is the first)"})


@register_model("data2vec_text_dino", dataclass=Data2VecTextDinoConfig)
class Data2VecTextDinoModel(Data2VecTextModel):
    def __init__(self, cfg, encoder):
        super().__init__(cfg, encoder)
        if not 0 <= cfg.dino_mask_prob < 1:
            raise ConfigError(f"model.dino_mask_prob={cfg.dino_mask_prob}: expected a share in [0, 1)")
        self.dino = None
        self.num_updates = 0
        if cfg.target in ("dino", "both"):
            self.dino = build_dino_objective(cfg, cfg.transformer.encoder.embed_dim)
        if cfg.target == "dino":  # kept (upstream builds the teacher only when it exists), never trained
            encoder.regression_head.requires_grad_(False)

    @classmethod
    def build_model(cls, cfg, task):
        return cls(cfg, Data2VecTextEncoder(cfg, task.source_dictionary, task.cfg.data))

    def set_num_updates(self, num_updates):
        """Called before every forward; the encoder's teacher and the teacher head step once per update."""
        super().set_num_updates(num_updates)  # the encoder builds / steps its EMA teacher (once per update)
        ema = self.encoder.ema
        if self.training and self.dino is not None and ema is not None and ema.get_decay() < 1 \
                and getattr(self, "_head_update", None) != num_updates:
            self.dino.teacher_step(ema.get_decay())
            self._head_update = num_updates
        self.num_updates = num_updates

    def end_update(self):
        """After the optimizer step (fairseq's end of update): DINO's center moves once per update."""
        if self.dino is not None:
            self.dino.end_update()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self._head_update = None  # the loaded teacher head has not taken this update's step yet
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def upgrade_state_dict_named(self, state_dict, name):
        # fine-tuning (model._name=data2vec_text_dino, target=data2vec) from a DINO-pretrained checkpoint:
        # the DINO head, its teacher and the center are pretraining-only, like upstream's regression head
        prefix = name + "." if name != "" else ""
        if self.dino is None:
            for k in [k for k in state_dict if k.startswith(prefix + "dino.")]:
                del state_dict[k]
        return super().upgrade_state_dict_named(state_dict, name)

    def remove_pretraining_modules(self, last_layer=None):
        super().remove_pretraining_modules(last_layer)
        self.dino = None

    @torch.no_grad()
    def forward_features(self, src_tokens, pool="cls"):
        """(B, C) frozen sentence features: the ``<s>`` token's final representation (``pool='cls'``)
        or the mean over the sentence's tokens, padding excluded (``'mean'``)."""
        x, _ = self.encoder.extract_features(src_tokens)  # (B, T, C)
        if pool == "cls":
            return x[:, 0]
        keep = src_tokens.ne(self.encoder.dictionary.pad()).unsqueeze(-1).type_as(x)
        return (x * keep).sum(1) / keep.sum(1)

    def second_view(self, tokens):
        """``tokens`` (unmasked) with ``dino_mask_prob`` of the non-special tokens replaced by <mask>."""
        d = self.encoder.dictionary
        special = tokens.eq(d.pad()) | tokens.eq(d.bos()) | tokens.eq(d.eos())
        pick = (torch.rand(tokens.shape, device=tokens.device) < self.cfg.dino_mask_prob) & ~special
        return tokens.masked_fill(pick, self.encoder.mask_idx)

    def dino_forward(self, src_tokens, target_tokens):
        # masked_lm's target_tokens hold only the masked positions' tokens: rebuild the sentence first
        full = unmasked_tokens(src_tokens, target_tokens, self.encoder.dictionary.pad())
        views = torch.cat([src_tokens, self.second_view(full)])
        student, _ = self.encoder.extract_features(views)  # B x T x C
        with torch.no_grad():
            self.encoder.ema.model.eval()
            teacher = self.encoder.ema.model(views)["encoder_out"][0][0]  # T x B x C -> <s> of each view
        loss, monitors = self.dino(student[:, 0], teacher, current_teacher_temp(self.cfg, self.num_updates),
                                   n_global=2, update_center=self.training)
        return loss, {**monitors, "dino_target_var": float(teacher.float().std(0).mean())}

    def forward(self, src_tokens, target_tokens=None, features_only=False, return_all_hiddens=False,
                classification_head_name=None, **kwargs):
        if features_only or target_tokens is None or classification_head_name is not None:
            return super().forward(src_tokens, target_tokens, features_only, return_all_hiddens,
                                   classification_head_name, **kwargs)
        if self.encoder.ema is None:
            raise RuntimeError("data2vec_text_dino: no EMA teacher yet; call set_num_updates() before "
                               "the first training forward (fairseq's trainer does)")
        result = {"losses": {}, "sample_size": 1, "logs": {}}
        if self.cfg.target in ("data2vec", "both"):
            result = super().forward(src_tokens, target_tokens, **kwargs)
            result["losses"] = {"main": result["losses"]["main"] * self.cfg.data2vec_weight}
        if self.cfg.target in ("dino", "both"):
            loss, monitors = self.dino_forward(src_tokens, target_tokens)
            # the trainer divides by sample_size (masked tokens for the regression): undo it for DINO's mean
            result["losses"]["dino"] = loss * self.cfg.dino_weight * result["sample_size"]
            if self.cfg.target == "dino":
                monitors["target_var"] = monitors["dino_target_var"]
            result["logs"] = {**result.get("logs", {}), **monitors,
                              "ema_decay": self.encoder.ema.get_decay() * 1000}
        return result
