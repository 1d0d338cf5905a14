#!/usr/bin/env python
"""Evaluate a GLUE fine-tuning checkpoint with the data2vec paper's metric for its task.

The data you pass with --data is the data scored (not the folder the checkpoint was trained on):
the output folder of scripts/prepare_glue.py, binarized with the checkpoint's dictionary. Writes
JSON (metric and its components per split) and, with --predictions, one prediction per line.
Example:
  python scripts/eval_glue.py runs/sst_2/ckpt/checkpoint_best.pt --data data-bin/sst_2 --task sst_2
"""
import json
import os
import sys

from d2v_ext import cli
from d2v_ext.data.glue_tasks import TASKS


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="fine-tuned checkpoint (e.g. checkpoint_best.pt)")
    p.add_argument("--data", required=True, help="a prepare_glue.py folder (input0/, [input1/,] label/)")
    p.add_argument("--task", required=True, help=f"GLUE task (picks the metric): one of {', '.join(sorted(TASKS))}")
    p.add_argument("--splits", default="valid", help="comma-separated splits (MNLI: valid,valid1)")
    p.add_argument("--out", help="JSON output path (default: print only)")
    p.add_argument("--predictions", help="write predictions here, one per line, in dataset order")
    return p.parse_args(argv)


def check_task(task, cfg):
    """The task's kind (regression or classes) must be the checkpoint's."""
    from d2v_ext.errors import ConfigError

    regression, trained_regression = TASKS[task].labels is None, bool(cfg.task.get("regression_target", False))
    if regression != trained_regression:
        kind = "a regression task" if regression else "a classification task"
        trained = "as a regression task" if trained_regression else f"with {cfg.task.get('num_classes')} classes"
        raise ConfigError(f"--task {task} is {kind}, but the checkpoint was fine-tuned {trained}; "
                          "pick the task it was trained for")


@cli.script("eval_glue.py")
def main(argv=None):
    args = parse_args(argv)
    import d2v_ext  # noqa: F401  (registers models)
    from d2v_ext.errors import ConfigError, MissingInputError
    from d2v_ext.evaluation.glue_metrics import task_metric
    from d2v_ext.evaluation.glue_predict import load_finetuned, predict

    if args.task not in TASKS:
        raise ConfigError(f"--task {args.task!r}: unknown task; expected one of {', '.join(sorted(TASKS))}")
    if not os.path.isdir(args.data):
        raise MissingInputError(f"--data {args.data}: folder not found; expected a prepare_glue.py output folder")
    splits = args.splits.split(",")
    pred_paths = {s: args.predictions if s == "valid" else f"{args.predictions}.{s}" for s in splits} \
        if args.predictions else {}
    for path in pred_paths.values():
        cli.check_output_file(path, "--predictions")
    cli.check_output_file(args.out, "--out")
    model, task, cfg = load_finetuned(args.checkpoint, args.data)
    check_task(args.task, cfg)
    result = {"checkpoint": os.path.abspath(args.checkpoint), "data": os.path.abspath(args.data),
              "task": args.task, "splits": {}}
    outputs = {}
    for split in splits:
        if not os.path.isfile(os.path.join(args.data, "input0", f"{split}.idx")):
            raise MissingInputError(f"--data {args.data}: no split {split!r} (input0/{split}.idx); "
                                    "prepare_glue.py writes valid (and valid1 for MNLI)")
        preds, golds = predict(model, task, cfg, split)
        as_num = (lambda v: int(v) if isinstance(v, str) and v.isdigit() else v)
        name, parts = task_metric(args.task, [as_num(p) for p in preds], [as_num(g) for g in golds])
        result["splits"][split] = {"n": len(preds), "metric": name, **parts}
        print(f"{args.task} {split}: {name} = {parts[name]:.2f}  (n={len(preds)})")
        if split in pred_paths:
            outputs[pred_paths[split]] = "".join(f"{p}\n" for p in preds)
    for path, text in outputs.items():  # written only once every split has been scored
        cli.write_atomic(path, text)
    if args.out:
        cli.write_atomic(args.out, json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
