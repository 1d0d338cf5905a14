"""Frozen image features (CLS token or mean of patch tokens) of an ImageFolder tree, from any vision
checkpoint :mod:`.vision_backbones` reads (data2vec v1 / 2.0, DINO, MAE, fine-tuned classifiers)."""
import torch

from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..errors import DataError
from .vision_backbones import load_backbone


def eval_transform(image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(image_size, interpolation=transforms.InterpolationMode.BICUBIC),
                               transforms.CenterCrop(image_size), transforms.ToTensor(),
                               transforms.Normalize(mean, std)])


@torch.no_grad()
def extract(model, dataset, pool="cls", batch_size=128, progress=None):
    """(features, labels) for a whole CheckedImageFolder with an eval transform; ``model(images, pool)``."""
    feats, labels = [], []
    for i in range(0, len(dataset), batch_size):
        batch = [dataset[j] for j in range(i, min(i + batch_size, len(dataset)))]
        feats.append(model(torch.stack([b[0] for b in batch]), pool).float())
        labels.extend(b[1] for b in batch)
        if progress:
            progress(min(i + batch_size, len(dataset)), len(dataset))
    return torch.cat(feats), torch.tensor(labels)


def tree_features(checkpoint, root, pool="cls", weights="auto", batch_size=128, log=print):
    """Features of ``root/train`` and ``root/val`` (ImageFolder trees) from a checkpoint:
    returns ({'train': (X, y), 'val': (X, y)}, class names, the Backbone)."""
    from ..data.image_folder import CheckedImageFolder

    model, _ = load_backbone(checkpoint, weights)
    model(torch.zeros(1, 3, model.image_size, model.image_size), pool)  # a wrong --pool fails before any image is read
    log(f"{checkpoint}: {model.kind} backbone, {model.weights} weights, {pool} features")
    tf = eval_transform(model.image_size, model.mean, model.std)
    folders = {split: CheckedImageFolder(f"{root}/{split}", tf) for split in ("train", "val")}
    train, val = folders["train"].classes, folders["val"].classes
    if train != val:
        only = lambda a, b: ", ".join(sorted(set(a) - set(b))[:5]) or "none"  # noqa: E731
        raise DataError(f"{root}: train/ and val/ have different class folders (only in train: {only(train, val)}; "
                        f"only in val: {only(val, train)}); expected the same classes in both")
    out = {}
    for split, ds in folders.items():
        log(f"{split}: {len(ds)} images, {len(ds.classes)} classes")
        out[split] = extract(model, ds, pool, batch_size,
                             lambda i, n: log(f"  features {i}/{n}") if i == n or i % (batch_size * 8) == 0 else None)
    return out, train, model
