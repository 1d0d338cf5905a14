"""Image-caption pairs from prepare_coco.py's output: the manifest (``{split}.images.tsv``) and the
binarized captions (``{split}.bin/.idx``, an image's captions consecutive, in manifest order).

``captions='sample'``: one item per image, its caption drawn afresh each epoch (seeded by seed,
epoch and image: reproducible and the same on every worker). ``captions='all'``: one item per
caption. Items are (image, caption) with the caption ending in </s>; batches carry the images as
``net_input['source']`` (the name fairseq's SequenceGenerator reads the batch size from; its
``padding_mask`` is one unpadded position per image, from which it counts source lengths), the
decoder input ``prev_output_tokens`` (</s> then the caption shifted right, fairseq's convention)
and the padded ``target``; batching and ordering go by caption length.
"""
from pathlib import Path

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from ..errors import DataError, MissingInputError
from .image_folder import load_rgb


def read_manifest(path):
    """(image root, [(image_id, relative path, caption count)]); errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: not found (prepare the data with scripts/prepare_coco.py)")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise DataError(f"{path}: empty (expected the image root on line 1, then image_id<TAB>path<TAB>captions)")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit() or int(parts[2]) < 1:
            raise DataError(f"{path}:{n}: expected image_id<TAB>relative path<TAB>caption count (>= 1), got {line!r}")
        rows.append((int(parts[0]), parts[1], int(parts[2])))
    return lines[0], rows


class CaptionDataset(FairseqDataset):
    def __init__(self, manifest, captions, dictionary, transform, mode="sample", seed=1, root=None,
                 max_positions=None):
        self.root, self.images = read_manifest(manifest)
        self.root = root or self.root
        self.captions, self.dictionary, self.transform = captions, dictionary, transform
        counts = [n for _, _, n in self.images]
        self.first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # image i: captions first[i]..first[i+1]
        if self.first[-1] != len(captions):
            raise DataError(f"{manifest}: lists {self.first[-1]} captions, the binarized captions hold {len(captions)}; "
                            "prepare the split again")
        if mode not in ("sample", "all"):
            raise DataError(f"captions={mode!r}: expected 'sample' (one per image per epoch) or 'all'")
        self.mode, self.seed, self.epoch = mode, seed, 1
        self.caption_sizes = np.asarray(captions.sizes, dtype=np.int64)
        if max_positions:
            self.caption_sizes = np.minimum(self.caption_sizes, max_positions)
        self.max_positions = max_positions

    # which caption an item is
    def _pick(self, index):
        if self.mode == "all":
            return int(np.searchsorted(self.first, index, side="right") - 1), index
        lo, hi = self.first[index], self.first[index + 1]
        with data_utils.numpy_seed(self.seed, self.epoch, index):
            return index, int(np.random.randint(lo, hi))

    def set_epoch(self, epoch):
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return self.mode == "all"  # 'sample' draws other captions (other lengths) each epoch

    def __len__(self):
        return len(self.images) if self.mode == "sample" else int(self.first[-1])

    def image_path(self, image):
        return str(Path(self.root) / self.images[image][1])

    def __getitem__(self, index):
        image, caption = self._pick(index)
        tokens = self.captions[caption]
        if self.max_positions and len(tokens) > self.max_positions:
            tokens = torch.cat([tokens[: self.max_positions - 1], tokens[-1:]])  # keep </s>
        return {"id": index, "image_id": self.images[image][0], "caption": caption,
                "source": self.transform(load_rgb(self.image_path(image))), "target": tokens}

    def size(self, index):
        image, caption = self._pick(index)
        return int(self.caption_sizes[caption])

    def num_tokens(self, index):
        return self.size(index)

    @property
    def sizes(self):
        if self.mode == "all":
            return self.caption_sizes
        return np.array([self.size(i) for i in range(len(self))], dtype=np.int64)

    def ordered_indices(self):
        """Shuffled, then stably sorted by caption length (batches of similar lengths)."""
        with data_utils.numpy_seed(self.seed, self.epoch):
            order = np.random.permutation(len(self))
        return order[np.argsort(self.sizes[order], kind="mergesort")]

    def collater(self, samples):
        if not samples:
            return {}
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        target = data_utils.collate_tokens([s["target"] for s in samples], pad, eos)
        prev = data_utils.collate_tokens([s["target"] for s in samples], pad, eos, move_eos_to_beginning=True)
        return {"id": torch.tensor([s["id"] for s in samples]), "image_id": torch.tensor([s["image_id"] for s in samples]),
                "nsentences": len(samples), "ntokens": sum(len(s["target"]) for s in samples),
                "net_input": {"source": torch.stack([s["source"] for s in samples]), "prev_output_tokens": prev,
                              "padding_mask": torch.zeros(len(samples), 1, dtype=torch.bool)},
                "target": target}

