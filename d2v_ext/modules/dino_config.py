"""DINO's knobs as a config dataclass, and the objective they build (shared by the image and text models).

A model config mixes :class:`DinoTargetConfig` in; ``build_dino_objective(cfg, embed_dim)`` makes the
head, its teacher copy and the loss; ``current_teacher_temp(cfg, update)`` evaluates the warm-up.
"""
from dataclasses import dataclass, field

from fairseq.dataclass import ChoiceEnum

from .dino_objective import DinoObjective
from .schedules import teacher_temp_at


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
