"""Predictions of a fine-tuned sentence_prediction checkpoint on a binarized GLUE split."""
import torch

from ..checkpoint import load_checked


def load_finetuned(checkpoint, data):
    """(model, task, cfg) from a GLUE fine-tuning checkpoint, its task reading ``data`` (not the folder
    it was trained on); clear error for any other kind of checkpoint."""
    from fairseq import checkpoint_utils

    state = load_checked(checkpoint, "GLUE fine-tuning", tasks=("sentence_prediction",),
                         arg_overrides={"data": str(data)})
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], state=state)
    return models[0].eval(), task, cfg


@torch.no_grad()
def predict(model, task, cfg, split="valid", batch_size=64):
    """Return (predictions, gold labels) as label strings, or floats for regression tasks."""
    task.load_dataset(split)
    ds = task.dataset(split)
    itr = task.get_batch_iterator(dataset=ds, max_sentences=batch_size, max_positions=task.max_positions(),
                                  ignore_invalid_inputs=False).next_epoch_itr(shuffle=False)
    head = cfg.criterion.classification_head_name if "classification_head_name" in cfg.criterion \
        else "sentence_classification_head"
    regression = bool(cfg.task.regression_target)
    label_dict = None if regression else task.label_dictionary
    preds, golds = {}, {}
    for sample in itr:
        logits, _ = model(**sample["net_input"], features_only=True, classification_head_name=head)
        if regression:
            p, g = logits.view(-1).float().tolist(), sample["target"].view(-1).float().tolist()
        else:
            off = label_dict.nspecial  # labels are stored offset by the special symbols
            p = [label_dict[i + off] for i in logits.argmax(-1).tolist()]
            g = [label_dict[i + off] for i in sample["target"].view(-1).tolist()]
        for idx, pi, gi in zip(sample["id"].tolist(), p, g):
            preds[idx], golds[idx] = pi, gi
    order = sorted(preds)
    return [preds[i] for i in order], [golds[i] for i in order]
