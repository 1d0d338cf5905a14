#!/usr/bin/env python
"""k-NN evaluation of frozen image features (DINO's protocol) from any vision checkpoint (data2vec
v1 / 2.0, DINO, MAE, a fine-tuned classifier; d2v_ext/evaluation/vision_backbones.py lists what each
offers).

Features of every train and val image (CLS token by default; the EMA teacher's weights where the
checkpoint has a teacher, else the student), L2-normalised; each val image takes its k = 20 most cosine-similar
train images, each voting exp(similarity / 0.07) for its class. Writes JSON and prints a Markdown row.
Example:
  python scripts/knn_eval.py runs/pre/ckpt/checkpoint_last.pt --data ../shared/data/images/cifar10 --out knn.json
"""
import os
import sys

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    cli.add_probe_arguments(p)
    p.add_argument("--k", type=int, default=20, help="neighbours (DINO: 20)")
    p.add_argument("--temperature", type=float, default=0.07, help="vote temperature (DINO: 0.07)")
    return p.parse_args(argv)


@cli.script("knn_eval.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    cli.check_output_file(args.md, "--md")
    import d2v_ext  # noqa: F401  (registers the models)
    from d2v_ext.evaluation.knn import knn_predict, topk_accuracy
    from d2v_ext.evaluation.vision_features import tree_features

    feats, classes, backbone = tree_features(args.checkpoint, args.data, args.pool, args.weights)
    (xtr, ytr), (xva, yva) = feats["train"], feats["val"]
    acc = topk_accuracy(knn_predict(xtr, ytr, xva, len(classes), args.k, args.temperature), yva)
    name = args.name or args.checkpoint
    res = {"checkpoint": os.path.abspath(args.checkpoint), "name": name, "k": args.k,
           "temperature": args.temperature, "pool": args.pool, "weights": backbone.weights, "backbone": backbone.kind,
           "train_images": len(ytr), "val_images": len(yva), "classes": len(classes), **acc}
    row = f"| {name} | k-NN (k={args.k}, T={args.temperature}, {args.pool}) | {acc['top1']:.1f} | {acc['top5']:.1f} |"
    print(f"k-NN top-1 {acc['top1']:.2f}  top-5 {acc['top5']:.2f}  (chance {100 / len(classes):.1f})\n{row}")
    cli.write_probe_outputs(args, res, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
