"""Task ``coco_captioning``: image captioning on prepare_coco.py's output (COCO with Karpathy's
splits, or any data in that format).

Images are resized and cropped to ``input_size`` and normalised with ImageNet's mean and std
(training: a random crop of 80-100% of the image's area, no flip, since captions say left and
right; evaluation: resize and centre crop); grayscale, palette, RGBA and CMYK files are converted
to RGB. Targets are the binarized captions ending in </s>, the decoder input starts with </s>
(fairseq's convention; </s> doubles as BOS). ``captions``: ``sample`` (one caption per image per
epoch) or ``all`` (every caption an item). ``build_generator`` gives fairseq's SequenceGenerator
(beam search; the captioning literature decodes with beam 3-5, at most ~20 tokens, no repeated
3-grams).
"""
import logging
import os
from dataclasses import dataclass, field

from fairseq.data import Dictionary, data_utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II

from ..data.caption_dataset import CaptionDataset
from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..errors import MissingInputError

logger = logging.getLogger(__name__)


@dataclass
class CocoCaptioningConfig(FairseqDataclass):
    data: str = field(default="", metadata={"help": "prepare_coco.py's output folder ({split}.images.tsv, .bin/.idx, dict.txt)"})
    images: str = field(default="", metadata={"help": "image root (default: the one the manifests name)"})
    input_size: int = field(default=224, metadata={"help": "image side in pixels (ViT-B/16: 224)"})
    captions: ChoiceEnum(["sample", "all"]) = field(default="sample", metadata={
        "help": "sample: one caption per image, drawn afresh each epoch; all: every caption is an item"})
    max_target_positions: int = field(default=32, metadata={"help": "captions are cut to this many tokens (</s> kept)"})
    seed: int = II("common.seed")


def transforms(input_size, train):
    from torchvision import transforms as T

    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train:
        return T.Compose([T.RandomResizedCrop(input_size, scale=(0.8, 1.0), interpolation=T.InterpolationMode.BICUBIC), *norm])
    return T.Compose([T.Resize(input_size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(input_size), *norm])


@register_task("coco_captioning", dataclass=CocoCaptioningConfig)
class CocoCaptioningTask(FairseqTask):
    def __init__(self, cfg, dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        path = os.path.join(cfg.data, "dict.txt")
        if not os.path.isfile(path):
            raise MissingInputError(f"task.data={cfg.data}: no dict.txt (prepare the data with scripts/prepare_coco.py)")
        d = Dictionary.load(path)
        logger.info(f"coco_captioning: dictionary {len(d)} symbols")
        return cls(cfg, d)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        prefix = os.path.join(self.cfg.data, split)
        captions = data_utils.load_indexed_dataset(prefix, self.dictionary)
        if captions is None:
            raise MissingInputError(f"task.data={self.cfg.data}: no binarized captions {prefix}.bin/.idx for split {split!r}")
        ds = CaptionDataset(prefix + ".images.tsv", captions, self.dictionary, transforms(self.cfg.input_size, split == "train"),
                            mode=str(self.cfg.captions) if split == "train" else "all", seed=self.cfg.seed,
                            root=self.cfg.images or None, max_positions=self.cfg.max_target_positions)
        logger.info(f"coco_captioning {split}: {len(ds.images)} images, {len(captions)} captions, {len(ds)} items")
        self.datasets[split] = ds
        return ds

    def max_positions(self):
        return self.cfg.max_target_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
