#!/usr/bin/env python
"""Linear probe of frozen image features from any vision checkpoint (data2vec v1 / 2.0, DINO, MAE,
a fine-tuned classifier; d2v_ext/evaluation/vision_backbones.py lists what each offers).

Frozen features of every train and val image (CLS token by default; the EMA teacher's weights where
the checkpoint has a teacher, else the student)
are standardised with the train statistics, then a multinomial logistic-regression classifier
(scikit-learn, L2, --C) is fit on train and scored on val. Writes JSON and prints a Markdown row.
Example:
  python scripts/linear_probe.py runs/pre/ckpt/checkpoint_last.pt --data ../shared/data/images/cifar10 --out probe.json
"""
import os
import sys

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_probe_arguments(p)
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (try 0.01-10 if it under/overfits)")
    p.add_argument("--max-iter", type=int, default=2000, help="solver iterations (default 2000)")
    return p.parse_args(argv)


@cli.script("linear_probe.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    cli.check_output_file(args.md, "--md")
    import d2v_ext  # noqa: F401  (registers the models)
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from d2v_ext.evaluation.vision_features import tree_features

    feats, classes, backbone = tree_features(args.checkpoint, args.data, args.pool, args.weights)
    (xtr, ytr), (xva, yva) = ((x.numpy(), y.numpy()) for x, y in (feats["train"], feats["val"]))
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=args.C, max_iter=args.max_iter).fit(scaler.transform(xtr), ytr)
    train_acc = 100.0 * clf.score(scaler.transform(xtr), ytr)
    top1 = 100.0 * clf.score(scaler.transform(xva), yva)
    name = args.name or args.checkpoint
    res = {"checkpoint": os.path.abspath(args.checkpoint), "name": name, "C": args.C, "pool": args.pool,
           "weights": backbone.weights, "backbone": backbone.kind, "train_images": len(ytr), "val_images": len(yva), "classes": len(classes),
           "top1": top1, "train_top1": train_acc, "iterations": int(max(clf.n_iter_))}
    row = f"| {name} | linear probe (C={args.C}, {args.pool}) | {top1:.1f} | train {train_acc:.1f} |"
    print(f"linear probe top-1 {top1:.2f} (train {train_acc:.2f}; chance {100 / len(classes):.1f})\n{row}")
    cli.write_probe_outputs(args, res, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
