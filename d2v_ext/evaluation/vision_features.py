"""Frozen image features (CLS token or mean of patch tokens) from a data2vec vision checkpoint.

Supports upstream ``data2vec_vision`` (v1) checkpoints and their subclasses. ``weights='teacher'``
(the default, as DINO's k-NN evaluation) uses the EMA teacher's parameters where the checkpoint
has them; ``'student'`` the trained network itself.
"""
import torch

from ..errors import WrongCheckpointError, load_checked_checkpoint

VISION_MODELS = ("data2vec_vision", "data2vec_dino")


def load_vision_encoder(checkpoint, weights="teacher"):
    """(model in eval mode, its cfg) with pretraining-only parts removed."""
    from fairseq.models import MODEL_REGISTRY

    state, cfg, name = load_checked_checkpoint(checkpoint, VISION_MODELS, "data2vec image pretraining")
    model = MODEL_REGISTRY[name].build_model(cfg.model)
    params = dict(state["model"])
    ema = params.pop("_ema", None)
    params = {k: v for k, v in params.items() if not k.startswith("dino_teacher")}
    if weights == "teacher" and ema:
        prefix = "encoder." if cfg.model.get("ema_transformer_only", True) else ""
        params.update({prefix + k: v for k, v in ema.items() if prefix + k in params})
    model.load_state_dict(params, strict=False)
    model.remove_pretraining_modules()
    return model.eval(), cfg


@torch.no_grad()
def image_features(model, images, pool="cls"):
    """(B, C) features of a batch of normalised images (B, 3, H, W)."""
    x = model.patch_embed(images)
    x = torch.cat((model.cls_emb.expand(x.size(0), -1, -1), x), dim=1)
    x = model.encoder.extract_features(x, layer_results=None)  # final LayerNorm'd tokens, CLS first
    return x[:, 0] if pool == "cls" else x[:, 1:].mean(1)


def eval_transform(image_size, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
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
        feats.append(image_features(model, torch.stack([b[0] for b in batch]), pool))
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
    tf = eval_transform(cfg.model.image_size, tuple(task.get("normalization_mean", (0.485, 0.456, 0.406))),
                        tuple(task.get("normalization_std", (0.229, 0.224, 0.225))))
    out, classes = {}, None
    for split in ("train", "val"):
        ds = CheckedImageFolder(f"{root}/{split}", tf)
        if classes is not None and ds.classes != classes:
            raise ValueError(f"{root}: train and val have different class folders")
        classes = ds.classes
        log(f"{split}: {len(ds)} images, {len(classes)} classes")
        out[split] = extract(model, ds, pool, batch_size,
                             lambda i, n: log(f"  features {i}/{n}") if i == n or i % (batch_size * 8) == 0 else None)
    return out, classes, cfg


def add_probe_arguments(parser):
    """The arguments knn_eval.py and linear_probe.py share."""
    parser.add_argument("checkpoint", help="data2vec_vision / data2vec_dino pretraining checkpoint")
    parser.add_argument("--data", required=True, help="ImageFolder root with train/ and val/")
    parser.add_argument("--pool", choices=("cls", "mean"), default="cls", help="CLS token or mean of patch tokens")
    parser.add_argument("--weights", choices=("teacher", "student"), default="teacher", help="EMA teacher or student")
    parser.add_argument("--name", help="row label (default: the checkpoint path)")
    parser.add_argument("--out", help="JSON output path")
    parser.add_argument("--md", help="append the Markdown row to this file")


def probe_features(args, script):
    """tree_features for a probe script's arguments; bad input exits with ``script: error: ...``."""
    import os
    import sys

    from ..data.image_folder import ImageInputError

    if not os.path.isfile(args.checkpoint):
        sys.exit(f"{script}: error: checkpoint not found: {args.checkpoint}")
    try:
        return tree_features(args.checkpoint, args.data, args.pool, args.weights)
    except (WrongCheckpointError, ImageInputError) as e:
        sys.exit(f"{script}: error: {e}")
