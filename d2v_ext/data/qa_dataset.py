"""A fairseq dataset over QA window features (see qa_features.py)."""
import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from .ordering import epoch_order
from .qa_features import context_mask


class QAFeatureDataset(FairseqDataset):
    def __init__(self, features, pad_idx, shuffle=False, seed=1):
        self.features = features
        self.pad_idx = pad_idx
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 1
        self._sizes = np.array([len(f.tokens) for f in features], dtype=np.int64)

    def __getitem__(self, index):
        f = self.features[index]
        return {"id": index, "source": torch.from_numpy(f.tokens),
                "span_mask": torch.from_numpy(context_mask(f)), "start": f.start, "end": f.end}

    def __len__(self):
        return len(self.features)

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False

    def set_epoch(self, epoch):
        self.epoch = epoch

    def ordered_indices(self):
        return epoch_order(len(self), self.shuffle, self.seed, self.epoch)

    def collater(self, samples):
        if not samples:
            return {}
        src = data_utils.collate_tokens([s["source"] for s in samples], self.pad_idx)
        mask = data_utils.collate_tokens([s["span_mask"] for s in samples], False)
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": int(src.ne(self.pad_idx).sum()),
            "net_input": {"src_tokens": src, "span_mask": mask},
            "start_positions": torch.tensor([s["start"] for s in samples]),
            "end_positions": torch.tensor([s["end"] for s in samples]),
        }
