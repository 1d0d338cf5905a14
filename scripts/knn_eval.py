#!/usr/bin/env python
"""k-NN evaluation of frozen image features (DINO's protocol) from a data2vec vision checkpoint.

Features of every train and val image (CLS token by default, after the final LayerNorm; the EMA
teacher's weights by default), L2-normalised; each val image takes its k = 20 most cosine-similar
train images, each voting exp(similarity / 0.07) for its class. Writes JSON and prints a Markdown row.
Example:
  python scripts/knn_eval.py runs/pre/ckpt/checkpoint_last.pt --data ../shared/data/images/cifar10 --out knn.json
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
    p.add_argument("--k", type=int, default=20, help="neighbours (DINO: 20)")
    p.add_argument("--temperature", type=float, default=0.07, help="vote temperature (DINO: 0.07)")
    p.add_argument("--pool", choices=("cls", "mean"), default="cls", help="CLS token or mean of patch tokens")
    p.add_argument("--weights", choices=("teacher", "student"), default="teacher", help="EMA teacher or student")
    p.add_argument("--name", help="row label (default: the checkpoint path)")
    p.add_argument("--out", help="JSON output path")
    p.add_argument("--md", help="append the Markdown row to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import d2v_ext  # noqa: F401  (registers the models)
    from d2v_ext.data.image_folder import ImageInputError
    from d2v_ext.errors import WrongCheckpointError
    from d2v_ext.evaluation.knn import knn_predict, topk_accuracy
    from d2v_ext.evaluation.vision_features import tree_features

    if not os.path.isfile(args.checkpoint):
        sys.exit(f"knn_eval.py: error: checkpoint not found: {args.checkpoint}")
    try:
        feats, classes, _ = tree_features(args.checkpoint, args.data, args.pool, args.weights)
    except (WrongCheckpointError, ImageInputError) as e:
        sys.exit(f"knn_eval.py: error: {e}")
    (xtr, ytr), (xva, yva) = feats["train"], feats["val"]
    acc = topk_accuracy(knn_predict(xtr, ytr, xva, len(classes), args.k, args.temperature), yva)
    name = args.name or args.checkpoint
    res = {"checkpoint": os.path.abspath(args.checkpoint), "name": name, "k": args.k,
           "temperature": args.temperature, "pool": args.pool, "weights": args.weights,
           "train_images": len(ytr), "val_images": len(yva), "classes": len(classes), **acc}
    row = f"| {name} | k-NN (k={args.k}, T={args.temperature}, {args.pool}) | {acc['top1']:.1f} | {acc['top5']:.1f} |"
    print(f"k-NN top-1 {acc['top1']:.2f}  top-5 {acc['top5']:.2f}  (chance {100 / len(classes):.1f})\n{row}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)
    if args.md:
        with open(args.md, "a") as f:
            f.write(row + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
