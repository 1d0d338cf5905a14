#!/usr/bin/env python
"""Top-1 / top-5 of a fine-tuned image classifier on an ImageFolder split, beside the paper's number.

The checkpoint's own fairseq task builds the split (the transform and class order fairseq validates
with), so top-1 here equals the val_accuracy fairseq logged for the same checkpoint. Works for
checkpoints of config/finetuning/imagenet_v1*.yaml (data2vec_image_classification) and
imagenet_v2*.yaml / imagenet_mae.yaml (mae_image_classification). Writes JSON (--out) and appends a
Markdown row (--md) with the published ImageNet-1K top-1 of --paper-row.
Example:
  python scripts/eval_image.py runs/ft/ckpt/checkpoint_best.pt --data /data/imagenet --split val \\
      --paper-row data2vec --out eval.json --md results.md
"""
import os
import sys

from d2v_ext import cli


def parse_args(argv=None):
    from d2v_ext.evaluation.paper_numbers import IMAGENET_TOP1

    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="fine-tuned image classification checkpoint")
    p.add_argument("--data", help="ImageFolder root (default: the checkpoint's task.data)")
    p.add_argument("--split", default="val", help="split folder under --data (default val)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--paper-row", choices=sorted(IMAGENET_TOP1), default="data2vec",
                   help="published ImageNet-1K top-1 shown beside the result (data2vec paper, Table 1)")
    p.add_argument("--size", choices=("ViT-B", "ViT-L"), default="ViT-B", help="which published column")
    p.add_argument("--name", help="row label (default: the checkpoint path)")
    p.add_argument("--out", help="JSON output path")
    p.add_argument("--md", help="append the Markdown row to this file")
    return p.parse_args(argv)


@cli.script("eval_image.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    cli.check_output_file(args.md, "--md")
    import d2v_ext  # noqa: F401  (registers the models)
    from d2v_ext.data.image_check import scan_tree
    from d2v_ext.evaluation.image_classify import accuracy, classify_split, load_classifier
    from d2v_ext.evaluation.paper_numbers import IMAGENET_TOP1

    model, task, cfg = load_classifier(args.checkpoint, args.data)
    scan_tree(cfg.task.data, [args.split])  # a missing split or an empty class folder is a clear error
    logits, labels = classify_split(model, task, args.split, args.batch_size,
                                    lambda i, n: print(f"  {i}/{n} images", file=sys.stderr)
                                    if i == n or i % (args.batch_size * 20) == 0 else None)
    acc = accuracy(logits, labels)
    classes = logits.size(1)
    paper = IMAGENET_TOP1[args.paper_row].get(args.size)
    name = args.name or args.checkpoint
    res = {"checkpoint": os.path.abspath(args.checkpoint), "name": name, "data": str(cfg.task.data),
           "split": args.split, "images": len(labels), "classes": classes, "model": cfg.model._name, **acc,
           "paper": {"row": args.paper_row, "size": args.size, "imagenet_top1": paper}}
    ref = f"{paper:.1f}" if paper is not None else "-"
    row = f"| {name} | {args.split} ({len(labels)} images) | {acc['top1']:.2f} | {acc['top5']:.2f} | {args.paper_row} {args.size}: {ref} |"
    print(f"top-1 {acc['top1']:.2f}  top-5 {acc['top5']:.2f}  ({len(labels)} images, {classes} classes; "
          f"chance {100 / classes:.1f}; published {args.paper_row} {args.size} ImageNet-1K top-1 {ref})\n{row}")
    cli.write_probe_outputs(args, res, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
