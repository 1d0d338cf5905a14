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
import math
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.models import BaseFairseqModel, register_model

from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionConfig, Data2VecVisionModel

from ..modules.dino_loss import teacher_temp_at
from ..modules.dino_objective import DinoObjective
from ..modules.rel_pos import sub_window_bias


@dataclass
class DinoTargetConfig:
    """The target switch and DINO's knobs (kept apart from the backbone config so a text model can reuse them)."""
    target: ChoiceEnum(["data2vec", "dino", "both"]) = field(default="data2vec", metadata={
        "help": "prediction target: data2vec regression, DINO prototypes, or their weighted sum"})
    data2vec_weight: float = field(default=1.0, metadata={"help": "weight of the regression loss (target=both)"})
    dino_weight: float = field(default=1.0, metadata={"help": "weight of the DINO loss (target=both)"})
    dino_out_dim: int = field(default=65536, metadata={"help": "prototypes K (DINO: 65536; fewer for small data)"})
    dino_hidden_dim: int = field(default=2048, metadata={"help": "DINO head MLP width"})
    dino_bottleneck_dim: int = field(default=256, metadata={"help": "DINO head bottleneck"})
    dino_student_temp: float = field(default=0.1, metadata={"help": "student temperature (DINO: 0.1)"})
    dino_teacher_temp: float = field(default=0.04, metadata={
        "help": "final teacher temperature (DINO: 0.04; 0.07 with warm-up; lower it if training is unstable)"})
    dino_warmup_teacher_temp: float = field(default=0.04, metadata={"help": "teacher temperature at update 0"})
    dino_warmup_teacher_temp_updates: int = field(default=0, metadata={
        "help": "updates of linear teacher-temperature warm-up (DINO: 30 epochs)"})
    dino_center_momentum: float = field(default=0.9, metadata={"help": "center EMA momentum (DINO: 0.9)"})


def current_teacher_temp(cfg, num_updates):
    return teacher_temp_at(num_updates, cfg.dino_warmup_teacher_temp_updates, cfg.dino_warmup_teacher_temp,
                           cfg.dino_teacher_temp)


def build_dino_objective(cfg, embed_dim):
    return DinoObjective(embed_dim, cfg.dino_out_dim, cfg.dino_hidden_dim, cfg.dino_bottleneck_dim,
                         cfg.dino_student_temp, cfg.dino_center_momentum)


@dataclass
class Data2VecDinoConfig(Data2VecVisionConfig, DinoTargetConfig):
    ema_schedule: ChoiceEnum(["linear", "cosine"]) = field(default="linear", metadata={
        "help": "teacher momentum: linear (data2vec) or cosine (DINO, ema_decay 0.996 -> ema_end_decay 1.0)"})


def teacher_momentum(schedule, start, end, step, total):
    if total <= 0 or step >= total:
        return end
    if schedule == "cosine":
        return end - (end - start) * (math.cos(math.pi * step / total) + 1) / 2
    return start + (end - start) * step / total


@register_model("data2vec_dino", dataclass=Data2VecDinoConfig)
class Data2VecDinoModel(Data2VecVisionModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.dino = None
        if cfg.target in ("dino", "both"):
            if not cfg.ema_transformer_only:
                raise ValueError("data2vec_dino with a DINO target needs model.ema_transformer_only=true "
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
        BaseFairseqModel.set_num_updates(self, num_updates)
        if self.ema is None and self.final_proj is not None:
            self.make_ema_teacher()
        elif self.training and self.ema is not None:
            decay = self.current_momentum(num_updates)
            self.ema.set_decay(decay)
            if decay < 1:
                self.ema.step(self.encoder)
                if self.dino is not None:
                    self.dino.teacher_step(decay)
        self.num_updates = num_updates

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # upstream restores the saved teacher only if it already exists; build it first on resume
        if self.ema is None and self.final_proj is not None and prefix + "_ema" in state_dict:
            self.make_ema_teacher()
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def remove_pretraining_modules(self, last_layer=None):
        super().remove_pretraining_modules(last_layer)
        self.dino = None

    # ---- forward ---------------------------------------------------------------------------------
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
            raise ValueError(f"global crops are {global_crops[0].size(-1)}px but model.image_size is "
                             f"{self.cfg.image_size}: set task.input_size to model.image_size")
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
