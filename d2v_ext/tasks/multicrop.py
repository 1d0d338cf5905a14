"""Task ``multicrop_image_pretraining``: DINO multi-crop views of an ImageFolder tree.

``task.data`` is a folder whose ``<split>/`` (else itself) holds ``<class>/<image>`` files; class
labels are not used. Each image gives 2 global + ``n_local_crops`` local crops with DINO's
augmentations (modules/multicrop.py); every image is converted to RGB. Batches carry
``net_input = {"global_crops": [2 x (B,3,G,G)], "local_crops": [N x (B,3,L,L)]}``.
"""
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import List

from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING

from ..data.image_folder import CheckedImageFolder
from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..data.multicrop_dataset import MultiCropDataset
from ..modules.multicrop import MultiCropTransform

logger = logging.getLogger(__name__)


@dataclass
class MultiCropConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "ImageFolder root (with train/ or directly class folders)"})
    input_size: int = field(default=224, metadata={"help": "global crop size (DINO: 224)"})
    local_size: int = field(default=96, metadata={"help": "local crop size (DINO: 96); a multiple of the patch size"})
    n_local_crops: int = field(default=8, metadata={"help": "local crops per image (DINO: 8; 0 = global crops only)"})
    global_crop_scale: List[float] = field(default_factory=lambda: [0.4, 1.0], metadata={
        "help": "area range of global crops (DINO ViT: 0.4-1; try 0.25-1 with few local crops)"})
    local_crop_scale: List[float] = field(default_factory=lambda: [0.05, 0.4], metadata={
        "help": "area range of local crops (DINO: 0.05-0.4)"})
    normalization_mean: List[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    normalization_std: List[float] = field(default_factory=lambda: list(IMAGENET_STD))
    skip_bad_images: bool = field(default=False, metadata={
        "help": "check every image up front; count and drop undecodable ones instead of stopping"})
    seed: int = II("common.seed")


@register_task("multicrop_image_pretraining", dataclass=MultiCropConfig)
class MultiCropImagePretrainingTask(FairseqTask):
    @classmethod
    def setup_task(cls, cfg, **kwargs):
        return cls(cfg)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        c = self.cfg
        root = os.path.join(c.data, split) if os.path.isdir(os.path.join(c.data, split)) else c.data
        tf = MultiCropTransform(c.input_size, c.local_size, c.n_local_crops, c.global_crop_scale,
                                c.local_crop_scale, tuple(c.normalization_mean), tuple(c.normalization_std))
        folder = CheckedImageFolder(root, skip_bad=c.skip_bad_images)
        if folder.skipped:
            logger.warning(f"multicrop: skipped {len(folder.skipped)} undecodable images, e.g. {folder.skipped[0]}")
        logger.info(f"multicrop: {split}: {len(folder)} images in {len(folder.classes)} folders under {root}; "
                    f"2 x {c.input_size}px + {c.n_local_crops} x {c.local_size}px crops")
        self.datasets[split] = MultiCropDataset(folder, tf, seed=c.seed, shuffle=split == "train")

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None

    def max_positions(self):
        return sys.maxsize, sys.maxsize
