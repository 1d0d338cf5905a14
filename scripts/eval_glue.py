#!/usr/bin/env python
"""Evaluate a GLUE fine-tuning checkpoint with the data2vec paper's metric for its task.

Writes JSON (metric and its components per split) and, with --predictions, one prediction per line.
Example:
  python scripts/eval_glue.py runs/sst_2/ckpt/checkpoint_best.pt --data data-bin/sst_2 --task sst_2
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="fine-tuned checkpoint (e.g. checkpoint_best.pt)")
    p.add_argument("--data", required=True, help="the prepare_glue.py folder it was trained on")
    p.add_argument("--task", required=True, help="GLUE task name (picks the metric), e.g. cola, sst_2, nli3")
    p.add_argument("--splits", default="valid", help="comma-separated splits (MNLI: valid,valid1)")
    p.add_argument("--out", help="JSON output path (default: print only)")
    p.add_argument("--predictions", help="write predictions here, one per line, in dataset order")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import d2v_ext  # noqa: F401  (registers models)
    from d2v_ext.evaluation.glue_metrics import task_metric
    from d2v_ext.evaluation.glue_predict import WrongCheckpointError, load_finetuned, predict

    if not os.path.isfile(args.checkpoint):
        sys.exit(f"eval_glue.py: error: checkpoint not found: {args.checkpoint}")
    try:
        model, task, cfg = load_finetuned(args.checkpoint, args.data)
    except WrongCheckpointError as e:
        sys.exit(f"eval_glue.py: error: {e}")
    result = {"checkpoint": os.path.abspath(args.checkpoint), "task": args.task, "splits": {}}
    for split in args.splits.split(","):
        preds, golds = predict(model, task, cfg, split)
        as_num = (lambda v: int(v) if isinstance(v, str) and v.isdigit() else v)
        name, parts = task_metric(args.task, [as_num(p) for p in preds], [as_num(g) for g in golds])
        result["splits"][split] = {"n": len(preds), "metric": name, **parts}
        print(f"{args.task} {split}: {name} = {parts[name]:.2f}  (n={len(preds)})")
        if args.predictions:
            with open(args.predictions if split == "valid" else f"{args.predictions}.{split}", "w") as f:
                f.writelines(f"{p}\n" for p in preds)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
