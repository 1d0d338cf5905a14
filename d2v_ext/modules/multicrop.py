"""DINO's multi-crop augmentation (facebookresearch/dino ``DataAugmentationDINO``), torchvision only.

2 global crops (``global_size``, scale ``global_scale``) and N local crops (``local_size``, scale
``local_scale``), each flipped (p 0.5), colour-jittered (0.4, 0.4, 0.2, 0.1 with p 0.8) and
grayscaled (p 0.2); then Gaussian blur (sigma 0.1-2) with p 1.0 on global crop 1, 0.1 on global
crop 2 and 0.5 on local crops; solarization (p 0.2) on global crop 2 only; ImageNet normalisation.
Input images must be RGB (the dataset converts every image).
"""
from torchvision import transforms as T

from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD


def _blur(size, p):
    k = max(3, int(0.1 * size) // 2 * 2 + 1)  # odd kernel, ~10% of the crop (SimCLR / DINO)
    return T.RandomApply([T.GaussianBlur(k, sigma=(0.1, 2.0))], p=p)


class MultiCropTransform:
    def __init__(self, global_size=224, local_size=96, n_local=8, global_scale=(0.4, 1.0),
                 local_scale=(0.05, 0.4), mean=IMAGENET_MEAN, std=IMAGENET_STD):
        flip_color = T.Compose([
            T.RandomHorizontalFlip(p=0.5),
            T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
        ])
        norm = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
        bicubic = T.InterpolationMode.BICUBIC
        self.global1 = T.Compose([T.RandomResizedCrop(global_size, scale=tuple(global_scale), interpolation=bicubic),
                                  flip_color, _blur(global_size, 1.0), norm])
        self.global2 = T.Compose([T.RandomResizedCrop(global_size, scale=tuple(global_scale), interpolation=bicubic),
                                  flip_color, _blur(global_size, 0.1), T.RandomSolarize(128, p=0.2), norm])
        self.local = T.Compose([T.RandomResizedCrop(local_size, scale=tuple(local_scale), interpolation=bicubic),
                                flip_color, _blur(local_size, 0.5), norm])
        self.n_local = n_local

    def __call__(self, img):
        return [self.global1(img), self.global2(img)] + [self.local(img) for _ in range(self.n_local)]
