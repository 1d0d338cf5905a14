"""Model ``data2vec_dino``: upstream's data2vec v1 vision backbone and EMA teacher with a target switch.

- ``target=data2vec``: upstream behaviour (regress the teacher's averaged top-K layers at masked
  patches), run on the two global crops of the multi-crop batch.
- ``target=dino``: DINO's loss on the CLS token: student = backbone + DINOHead on every crop
  (global and local, unmasked); teacher = the EMA backbone + an EMA copy of the head on the two
  global crops; centring and sharpening in ``DINOLoss``.
- ``target=both``: data2vec_weight * regression + dino_weight * DINO (each as its method defines it).

The teacher momentum follows ``ema_schedule``: ``linear`` (data2vec: ema_decay -> ema_end_decay over
ema_anneal_end_step) or ``cosine`` (DINO: 0.996 -> 1). The teacher temperature warms up linearly from
the update number. Local crops of a different resolution reuse the shared relative-position-bias
table (a smaller window's offsets are a subset of the full window's), so nothing is interpolated.
Collapse monitors are returned with the loss (log them with ``criterion.log_keys``): teacher_entropy,
teacher_student_kl, center_norm, prototypes_used, target_var, teacher_temp, ema_decay.
"""
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.models import BaseFairseqModel, register_model

from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionConfig, Data2VecVisionModel

from ..errors import ConfigError
from ..modules.dino_config import DinoTargetConfig, build_dino_objective, current_teacher_temp
from ..modules.rel_pos import sub_window_bias
from ..modules.schedules import teacher_momentum


@dataclass
class Data2VecDinoConfig(Data2VecVisionConfig, DinoTargetConfig):
    ema_schedule: ChoiceEnum(["linear", "cosine"]) = field(default="linear", metadata={
        "help": "teacher momentum: linear (data2vec) or cosine (DINO, ema_decay 0.996 -> ema_end_decay 1.0)"})


@register_model("data2vec_dino", dataclass=Data2VecDinoConfig)
class Data2VecDinoModel(Data2VecVisionModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.dino = None
        if cfg.target in ("dino", "both"):
            if not cfg.ema_transformer_only:
                raise ConfigError("model.ema_transformer_only=false: data2vec_dino with a DINO target needs true "
                                  "(the teacher is the EMA transformer plus an EMA copy of the DINO head)")
            self.dino = build_dino_objective(cfg, cfg.embed_dim)

    @classmethod
    def build_model(cls, cfg, task=None):
        return cls(cfg)

    # ---- teacher ---------------------------------------------------------------------------------
    def current_momentum(self, num_updates):
        c = self.cfg
        return teacher_momentum(c.ema_schedule, c.ema_decay, c.ema_end_decay, num_updates, c.ema_anneal_end_step)

    def set_num_updates(self, num_updates):
        """fairseq calls this before every forward: the teacher (and head) step once per update, on the
        first micro-batch, with the student of the previous update."""
        BaseFairseqModel.set_num_updates(self, num_updates)
        if self.ema is None and self.final_proj is not None:
            self.make_ema_teacher()
        elif self.training and self.ema is not None and getattr(self, "_stepped_update", None) != num_updates:
            decay = self.current_momentum(num_updates)
            self.ema.set_decay(decay)
            if decay < 1:
                self.ema.step(self.encoder)
                if self.dino is not None:
                    self.dino.teacher_step(decay)
            self._stepped_update = num_updates
        self.num_updates = num_updates

    def end_update(self):
        """After the optimizer step (fairseq's end of update): DINO's center moves once per update."""
        if self.dino is not None:
            self.dino.end_update()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # upstream restores the saved teacher only if it already exists; build it first on resume
        if self.ema is None and self.final_proj is not None and prefix + "_ema" in state_dict:
            self.make_ema_teacher()
        self._stepped_update = None  # the loaded teacher has not taken this update's step yet
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def remove_pretraining_modules(self, last_layer=None):
        super().remove_pretraining_modules(last_layer)
        self.dino = None

    # ---- forward ---------------------------------------------------------------------------------
    @torch.no_grad()
    def forward_features(self, images, pool="cls"):
        """(B, C) frozen features of normalised images (B, 3, H, W), as DINO's evaluation reads them:
        the CLS token (``pool='cls'``) or the mean of the patch tokens (``'mean'``) after the final LayerNorm;
        ``pool='tokens'``: all of them (B, 1 + patches, C)."""
        x = self.patch_embed(images)
        x = torch.cat((self.cls_emb.expand(x.size(0), -1, -1), x), dim=1)
        x = self.encoder.extract_features(x, layer_results=None)  # (B, 1 + patches, C)
        return x if pool == "tokens" else x[:, 0] if pool == "cls" else x[:, 1:].mean(1)

    def encode_cls(self, images, encoder):
        """CLS token after the final LayerNorm, for crops of any size (multiples of the patch size)."""
        p = self.patch_embed.patch_size
        x = self.patch_embed(images)
        x = torch.cat((self.cls_emb.expand(x.size(0), -1, -1), x), dim=1)
        bias = sub_window_bias(encoder.rel_pos_bias, images.size(-2) // p[0], images.size(-1) // p[1])
        for blk in encoder.blocks:
            x, _ = blk(x, rel_pos_bias=bias)
        return encoder.norm(x)[:, 0]

    def dino_forward(self, global_crops, local_crops):
        student_cls = [self.encode_cls(torch.cat(global_crops), self.encoder)]
        if local_crops:
            student_cls.append(self.encode_cls(torch.cat(local_crops), self.encoder))
        with torch.no_grad():
            self.ema.model.eval()
            t_cls = self.encode_cls(torch.cat(global_crops), self.ema.model)
        loss, monitors = self.dino(torch.cat(student_cls), t_cls, current_teacher_temp(self.cfg, self.num_updates),
                                   n_global=len(global_crops), update_center=self.training)
        return loss, {**monitors, "dino_target_var": self.compute_var(t_cls.float())}

    def forward(self, img=None, mask=True, layer_results=False, global_crops=None, local_crops=None):
        if global_crops is None:  # upstream batches (image_pretraining) and feature extraction
            return super().forward(img, mask=mask, layer_results=layer_results)
        if global_crops[0].size(-1) != self.cfg.image_size:
            raise ConfigError(f"task.input_size: global crops are {global_crops[0].size(-1)}px but model.image_size "
                              f"is {self.cfg.image_size}; set task.input_size to model.image_size")
        result = {"losses": {}, "sample_size": 1}
        if self.cfg.target in ("data2vec", "both"):
            result = super().forward(torch.cat(global_crops), mask=True)
            result["losses"] = {"regression": result["losses"]["regression"] * self.cfg.data2vec_weight}
        if self.cfg.target in ("dino", "both"):
            loss, monitors = self.dino_forward(global_crops, local_crops)
            # the trainer divides by sample_size (masked patches for the regression): undo it for DINO's mean
            result["losses"]["dino"] = loss * self.cfg.dino_weight * result["sample_size"]
            if self.cfg.target == "dino":
                result["target_var"] = monitors["dino_target_var"]
                result["ema_decay"] = self.ema.get_decay() * 1000
            result.update(monitors)
        return result
