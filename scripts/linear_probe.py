#!/usr/bin/env python
"""Linear probe of frozen image features from a data2vec vision checkpoint.

Frozen features of every train and val image (CLS token by default; EMA teacher weights by default)
are standardised with the train statistics, then a multinomial logistic-regression classifier
(scikit-learn, L2, --C) is fit on train and scored on val. Writes JSON and prints a Markdown row.
Example:
  python scripts/linear_probe.py runs/pre/ckpt/checkpoint_last.pt --data ../shared/data/images/cifar10 --out probe.json
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="data2vec_vision / data2vec_dino pretraining checkpoint")
    p.add_argument("--data", required=True, help="ImageFolder root with train/ and val/")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (try 0.01-10 if it under/overfits)")
    p.add_argument("--max-iter", type=int, default=2000, help="solver iterations (default 2000)")
    p.add_argument("--pool", choices=("cls", "mean"), default="cls", help="CLS token or mean of patch tokens")
    p.add_argument("--weights", choices=("teacher", "student"), default="teacher", help="EMA teacher or student")
    p.add_argument("--name", help="row label (default: the checkpoint path)")
    p.add_argument("--out", help="JSON output path")
    p.add_argument("--md", help="append the Markdown row to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import d2v_ext  # noqa: F401  (registers the models)
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from d2v_ext.data.image_folder import ImageInputError
    from d2v_ext.errors import WrongCheckpointError
    from d2v_ext.evaluation.vision_features import tree_features

    if not os.path.isfile(args.checkpoint):
        sys.exit(f"linear_probe.py: error: checkpoint not found: {args.checkpoint}")
    try:
        feats, classes, _ = tree_features(args.checkpoint, args.data, args.pool, args.weights)
    except (WrongCheckpointError, ImageInputError) as e:
        sys.exit(f"linear_probe.py: error: {e}")
    (xtr, ytr), (xva, yva) = ((x.numpy(), y.numpy()) for x, y in (feats["train"], feats["val"]))
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=args.C, max_iter=args.max_iter).fit(scaler.transform(xtr), ytr)
    train_acc = 100.0 * clf.score(scaler.transform(xtr), ytr)
    top1 = 100.0 * clf.score(scaler.transform(xva), yva)
    name = args.name or args.checkpoint
    res = {"checkpoint": os.path.abspath(args.checkpoint), "name": name, "C": args.C, "pool": args.pool,
           "weights": args.weights, "train_images": len(ytr), "val_images": len(yva), "classes": len(classes),
           "top1": top1, "train_top1": train_acc, "iterations": int(max(clf.n_iter_))}
    row = f"| {name} | linear probe (C={args.C}, {args.pool}) | {top1:.1f} | train {train_acc:.1f} |"
    print(f"linear probe top-1 {top1:.2f} (train {train_acc:.2f}; chance {100 / len(classes):.1f})\n{row}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)
    if args.md:
        with open(args.md, "a") as f:
            f.write(row + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
