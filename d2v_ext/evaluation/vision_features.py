"""Frozen image features (CLS token or mean of patch tokens) from a data2vec vision checkpoint.

Supports upstream ``data2vec_vision`` (v1) checkpoints and ``data2vec_dino``: every checkpoint is
built as ``data2vec_dino`` (with ``target=data2vec`` it is upstream's model) and read through its
``forward_features``. ``weights='teacher'`` (the default, as DINO's k-NN evaluation) uses the EMA
teacher's parameters where the checkpoint has them; ``'student'`` the trained network itself.
"""
import torch

from ..checkpoint import load_checked, with_teacher_weights
from ..checkpoint.configs import model_config_as
from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..errors import CheckpointMismatchError, DataError

VISION_MODELS = ("data2vec_vision", "data2vec_dino")


def load_vision_encoder(checkpoint, weights="teacher"):
    """(model in eval mode, its cfg) with pretraining-only parts removed."""
    from ..models.data2vec_dino import Data2VecDinoConfig, Data2VecDinoModel

    state = load_checked(checkpoint, "data2vec image pretraining", models=VISION_MODELS)
    cfg = state["cfg"]
    model = Data2VecDinoModel.build_model(model_config_as(Data2VecDinoConfig, cfg.model, target="data2vec"))
    params = {k: v for k, v in state["model"].items() if not k.startswith("dino.")}
    ema = params.pop("_ema", None)
    if weights == "teacher" and ema is None:
        raise CheckpointMismatchError(f"{checkpoint} holds no EMA teacher (_ema; converted and fine-tuned "
                                      "checkpoints have none): use --weights student")
    if weights == "teacher":
        params = with_teacher_weights(params, ema, "encoder." if cfg.model.get("ema_transformer_only", True) else "")
    model.load_state_dict(params, strict=False)
    norm = model.encoder.norm  # upstream drops the final LayerNorm as pretraining-only (fine-tuning pools
    model.remove_pretraining_modules()  # through fc_norm); DINO's evaluation reads the CLS token after it
    model.encoder.norm = norm
    return model.eval(), cfg


def eval_transform(image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(image_size, interpolation=transforms.InterpolationMode.BICUBIC),
                               transforms.CenterCrop(image_size), transforms.ToTensor(),
                               transforms.Normalize(mean, std)])


@torch.no_grad()
def extract(model, dataset, pool="cls", batch_size=128, progress=None):
    """(features, labels) for a whole CheckedImageFolder with an eval transform."""
    feats, labels = [], []
    for i in range(0, len(dataset), batch_size):
        batch = [dataset[j] for j in range(i, min(i + batch_size, len(dataset)))]
        feats.append(model.forward_features(torch.stack([b[0] for b in batch]), pool).float())
        labels.extend(b[1] for b in batch)
        if progress:
            progress(min(i + batch_size, len(dataset)), len(dataset))
    return torch.cat(feats), torch.tensor(labels)


def tree_features(checkpoint, root, pool="cls", weights="teacher", batch_size=128, log=print):
    """Features of ``root/train`` and ``root/val`` (ImageFolder trees) from a checkpoint:
    returns ({'train': (X, y), 'val': (X, y)}, class names, model cfg)."""
    from ..data.image_folder import CheckedImageFolder

    model, cfg = load_vision_encoder(checkpoint, weights)
    task = cfg.get("task") or {}
    tf = eval_transform(cfg.model.image_size, tuple(task.get("normalization_mean", IMAGENET_MEAN)),
                        tuple(task.get("normalization_std", IMAGENET_STD)))
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
    return out, train, cfg
