"""A fairseq dataset of multi-crop views over a checked ImageFolder tree."""
import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from .ordering import epoch_order


class MultiCropDataset(FairseqDataset):
    def __init__(self, folder, transform, seed=1, shuffle=True):
        self.folder = folder          # data.image_folder.CheckedImageFolder (RGB images)
        self.transform = transform    # modules.multicrop.MultiCropTransform
        self.seed, self.shuffle, self.epoch = seed, shuffle, 1

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, index):
        with data_utils.numpy_seed(self.seed, self.epoch, index):
            torch_seed = int(np.random.randint(2 ** 31))
        img, _ = self.folder[index]
        state = torch.random.get_rng_state()
        torch.manual_seed(torch_seed)  # reproducible crops per (seed, epoch, image)
        try:
            crops = self.transform(img)
        finally:
            torch.random.set_rng_state(state)
        return {"id": index, "crops": crops}

    def set_epoch(self, epoch):
        self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False

    def num_tokens(self, index):
        return 1

    def size(self, index):
        return 1

    @property
    def sizes(self):
        return np.ones(len(self), dtype=np.int64)

    def ordered_indices(self):
        return epoch_order(len(self), self.shuffle, self.seed, self.epoch)

    def collater(self, samples):
        if not samples:
            return {}
        n = len(samples[0]["crops"])
        crops = [torch.stack([s["crops"][c] for s in samples]) for c in range(n)]
        return {"id": torch.tensor([s["id"] for s in samples]), "nsentences": len(samples), "ntokens": len(samples),
                "net_input": {"global_crops": crops[:2], "local_crops": crops[2:]}}
