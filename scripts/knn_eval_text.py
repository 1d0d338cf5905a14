#!/usr/bin/env python
"""k-NN evaluation of frozen sentence features from a data2vec v1 text checkpoint (data2vec_text or
data2vec_text_dino): the text counterpart of knn_eval.py, on a single-sentence GLUE task.

Features of every train and val sentence (<s> by default; the EMA teacher's weights by default),
L2-normalised; each val sentence takes its k = 20 most cosine-similar train sentences, each voting
exp(similarity / 0.07) for its label (DINO's protocol). Defaults: the bundled SST-2, the first 5,000
train sentences as the memory bank, the 872 official dev sentences as queries. Writes JSON and
prints a Markdown row beside the majority-class accuracy.
Example:
  python scripts/knn_eval_text.py runs/pre/ckpt/checkpoint_last.pt --out knn_text.json
"""
import os
import sys
from collections import Counter

from d2v_ext import cli


def parse_args(argv=None):
    from d2v_ext.paths import default_gpt2_bpe_files, shared_data_dir

    sst = shared_data_dir() / "glue" / "SST-2"
    enc, voc = default_gpt2_bpe_files()
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="data2vec_text / data2vec_text_dino pretraining checkpoint")
    p.add_argument("--task", choices=("sst_2", "cola"), default="sst_2", help="single-sentence GLUE task")
    p.add_argument("--train", default=str(sst / "train.tsv"), help="labelled TSV: the memory bank")
    p.add_argument("--val", default=str(sst / "dev.tsv"), help="labelled TSV: the queries")
    p.add_argument("--max-train", type=int, default=5000, help="use the first N train rows (0: all)")
    p.add_argument("--dict", help="dict.txt of the pretraining data (default: <checkpoint's task.data>/dict.txt)")
    p.add_argument("--bpe-encoder", default=enc, help="GPT-2 encoder.json (default: bundled)")
    p.add_argument("--bpe-vocab", default=voc, help="GPT-2 vocab.bpe (default: bundled)")
    p.add_argument("--pool", choices=("cls", "mean"), default="cls", help="<s> token or mean of tokens")
    p.add_argument("--weights", choices=("teacher", "student"), default="teacher", help="EMA teacher or student")
    p.add_argument("--k", type=int, default=20, help="neighbours (DINO: 20)")
    p.add_argument("--temperature", type=float, default=0.07, help="vote temperature (DINO: 0.07)")
    p.add_argument("--name", help="row label (default: the checkpoint path)")
    p.add_argument("--out", help="JSON output path")
    p.add_argument("--md", help="append the Markdown row to this file")
    args = p.parse_args(argv)
    if args.k < 1 or args.max_train < 0:
        p.error("--k must be >= 1 and --max-train >= 0")
    return args


def labelled(path, task, limit=0):
    from d2v_ext.data.glue_tasks import read_rows

    rows = []
    for sents, label in read_rows(path, task):
        rows.append((sents[0], task.labels.index(label)))
        if limit and len(rows) == limit:
            break
    return rows


@cli.script("knn_eval_text.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    cli.check_output_file(args.md, "--md")
    import d2v_ext  # noqa: F401  (registers the models)
    import torch

    from d2v_ext.data.glue_tasks import TASKS
    from d2v_ext.errors import MissingInputError
    from d2v_ext.evaluation.knn import knn_predict, topk_accuracy
    from d2v_ext.evaluation.text_features import encode_sentences, load_text_encoder, sentence_features

    task = TASKS[args.task]
    for flag, path in (("--train", args.train), ("--val", args.val)):
        if not os.path.isfile(path):
            raise MissingInputError(f"{flag} {path}: not found; expected a labelled GLUE TSV (sentence<TAB>label)")
    data = {"train": labelled(args.train, task, args.max_train), "val": labelled(args.val, task)}
    model, dictionary = load_text_encoder(args.checkpoint, args.weights, args.dict)
    positions = model.cfg.transformer.max_source_positions
    feats = {}
    for split, rows in data.items():
        print(f"knn_eval_text.py: {split}: encoding {len(rows):,} sentences ({args.pool}, {args.weights})", flush=True)
        toks = encode_sentences([s for s, _ in rows], dictionary, args.bpe_encoder, args.bpe_vocab, positions)
        x = torch.nn.functional.normalize(sentence_features(model, toks, dictionary.pad(), args.pool), dim=-1)
        feats[split] = (x, torch.tensor([y for _, y in rows]))
    (xtr, ytr), (xva, yva) = feats["train"], feats["val"]
    n_cls = task.num_classes
    acc = topk_accuracy(knn_predict(xtr, ytr, xva, n_cls, args.k, args.temperature), yva, ks=(1,))
    majority = 100.0 * Counter(yva.tolist()).most_common(1)[0][1] / len(yva)
    name = args.name or args.checkpoint
    res = {"checkpoint": os.path.abspath(args.checkpoint), "name": name, "task": args.task, "k": args.k,
           "temperature": args.temperature, "pool": args.pool, "weights": args.weights,
           "train_sentences": len(ytr), "val_sentences": len(yva), "majority": majority, **acc}
    row = (f"| {name} | {args.task} k-NN (k={args.k}, T={args.temperature}, {args.pool}) | {acc['top1']:.1f} "
           f"| {majority:.1f} |")
    print(f"k-NN accuracy {acc['top1']:.2f}  (majority class {majority:.1f})\n{row}")
    cli.write_probe_outputs(args, res, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
