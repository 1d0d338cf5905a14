"""Top-1 / top-5 of a fine-tuned image classifier, read exactly as fairseq validates it: the
checkpoint's own task builds the split's dataset (same transform, same class order) and the model
is the checkpoint's (``data2vec_image_classification`` or ``mae_image_classification``)."""
import torch

from ..checkpoint import load_checked
from .knn import topk_accuracy as accuracy  # noqa: F401  ({'top1': %, 'top5': %} of logits)
from .vision_backbones import FINETUNED


def load_classifier(checkpoint, data=None):
    """(model in eval mode, its task, cfg); ``data`` replaces the checkpoint's ``task.data``."""
    from fairseq import tasks
    from omegaconf import open_dict

    state = load_checked(checkpoint, "fine-tuned image classification", models=tuple(FINETUNED),
                         hint=" (from config/finetuning/imagenet_*.yaml; pretraining checkpoints go to "
                              "knn_eval.py / linear_probe.py)")
    cfg = state["cfg"]
    if data is not None:
        with open_dict(cfg):
            cfg.task.data = str(data)
            cfg.model.data = str(data)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)  # the backbone comes from cfg.model.pretrained_model_args, not model_path
    model.load_state_dict(state["model"], strict=True)
    return model.eval(), task, cfg


@torch.no_grad()
def classify_split(model, task, split, batch_size=64, progress=None):
    """(logits (N, classes), labels (N,)) for every image of ``split`` in dataset order."""
    task.load_dataset(split)
    ds = task.dataset(split)
    logits, labels = [], []
    for start in range(0, len(ds), batch_size):
        batch = ds.collater([ds[i] for i in range(start, min(start + batch_size, len(ds)))])
        net_input = dict(batch["net_input"])
        labels.append(net_input.pop("label" if "label" in net_input else "labels"))  # v1 task / mae task
        logits.append(model(**net_input).float())
        if progress:
            progress(min(start + batch_size, len(ds)), len(ds))
    return torch.cat(logits), torch.cat(labels)
