#!/usr/bin/env python
"""GLUE task folders -> the binarized input0/ input1/ label/ layout of fairseq's sentence_prediction.

Reads the official GLUE layout (train.tsv, dev.tsv; MNLI dev_matched/dev_mismatched -> valid/valid1;
CoLA without header; STS-B float scores) and MNLI-like 3-way NLI TSVs (--task nli3). Sentences are
GPT-2 BPE encoded from local files and binarized with the DICTIONARY OF THE CHECKPOINT being
fine-tuned (--dict); labels get a fixed label dictionary in the task's label order.

Examples:
  python scripts/prepare_glue.py --task sst_2 --input ../shared/data/glue/SST-2 --dict data-bin/x/dict.txt --out data-bin/sst_2
  python scripts/prepare_glue.py --task nli3 --input ../shared/data/glue/VitaminC --dict ... --out data-bin/vitaminc
  python scripts/prepare_glue.py --task all --glue-dir /path/to/glue_data --dict ... --out data-bin/glue
"""
import os
import sys
from collections import Counter

from d2v_ext import cli
from d2v_ext.data.binarize import binarize_monolingual
from d2v_ext.data.bpe import encode_lines
from d2v_ext.data.dictionary import check_dictionary_file
from d2v_ext.data.glue_tasks import GLUE_TASKS, TASKS, GlueRowError, read_rows
from d2v_ext.data.output_dir import staged_output
from d2v_ext.errors import MissingInputError
from d2v_ext.paths import default_gpt2_bpe_files


def parse_args(argv=None):
    enc, voc = default_gpt2_bpe_files()
    p = cli.parser(__doc__)
    p.add_argument("--task", required=True, choices=sorted(TASKS) + ["all"],
                   help="GLUE task, nli3 (MNLI-like 3-way NLI TSV), or all (the 8 GLUE tasks)")
    p.add_argument("--input", help="the task folder with train.tsv and dev*.tsv")
    p.add_argument("--glue-dir", help="with --task all: the GLUE folder holding CoLA/, SST-2/, ...")
    p.add_argument("--dict", required=True, help="dict.txt of the checkpoint to fine-tune")
    p.add_argument("--out", required=True, help="output folder (with --task all: one subfolder per task)")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="skip malformed rows (wrong column count, unknown label, empty sentence) and "
                        "count them, instead of stopping at the first one")
    p.add_argument("--max-train", type=int, default=None, help="use only the first N training rows")
    p.add_argument("--bpe-encoder", default=enc, help="GPT-2 encoder.json (default: bundled copy)")
    p.add_argument("--bpe-vocab", default=voc, help="GPT-2 vocab.bpe (default: bundled copy)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    args = p.parse_args(argv)
    if args.task == "all" and not args.glue_dir:
        p.error("--task all needs --glue-dir")
    if args.task != "all" and not args.input:
        p.error("--input is required (the task folder)")
    return args


def load_splits(task, folder, args, skipped):
    splits = {"train": "train.tsv", **task.dev}
    rows = {}
    for split, name in splits.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise MissingInputError(f"{task.name}: {path} not found (expected GLUE layout: {list(splits.values())})")
        rows[split] = list(read_rows(path, task, args.skip_bad_rows, skipped[split]))
        if split == "train" and args.max_train:
            rows[split] = rows[split][: args.max_train]
        if not rows[split]:
            raise GlueRowError(path, 0, "no valid rows")
    return rows


def write_task(task, folder, out, args):
    skipped = {s: Counter() for s in ("train", *task.dev)}
    rows = load_splits(task, folder, args, skipped)
    with staged_output(out) as tmp:
        for i in range(len(task.sentences)):
            prefixes = []
            for split, split_rows in rows.items():
                path = os.path.join(tmp, f"input{i}.{split}.bpe")
                with open(path, "w") as f:
                    for ids in encode_lines((r[0][i] for r in split_rows), args.bpe_encoder,
                                            args.bpe_vocab, workers=args.workers):
                        f.write(ids + "\n")
                prefixes.append(path)
            binarize_monolingual(os.path.join(tmp, f"input{i}"), prefixes[0], ",".join(prefixes[1:]),
                                 args.dict, args.workers, dict_flag="--dict")
        write_labels(task, rows, tmp, args.workers)
        for name in os.listdir(tmp):
            if name.endswith((".bpe", ".lbl")):
                os.remove(os.path.join(tmp, name))
    summary = ", ".join(f"{s} {len(r):,}" for s, r in rows.items())
    print(f"prepare_glue.py: {task.name}: wrote {out} ({summary})")
    for split, c in skipped.items():
        if c:
            print(f"  skipped in {split}: " + ", ".join(f"{n} {k}" for k, n in c.items()))


def write_labels(task, rows, tmp, workers):
    label_dir = os.path.join(tmp, "label")
    os.makedirs(label_dir, exist_ok=True)
    names = ["train", *[s for s in rows if s != "train"]]
    if task.labels is None:  # regression: sentence_prediction reads label/<split>.label floats
        for split in names:
            with open(os.path.join(label_dir, f"{split}.label"), "w") as f:
                f.writelines(f"{float(label)}\n" for _, label in rows[split])
        return
    label_dict = os.path.join(tmp, "label_dict.lbl")
    with open(label_dict, "w") as f:  # fixed order = the task's label order, not frequency
        f.writelines(f"{label} 1\n" for label in task.labels)
    prefixes = []
    for split in names:
        prefixes.append(os.path.join(tmp, f"label.{split}.lbl"))
        with open(prefixes[-1], "w") as f:
            f.writelines(label + "\n" for _, label in rows[split])
    binarize_monolingual(label_dir, prefixes[0], ",".join(prefixes[1:]), label_dict, workers, dict_flag="label dictionary")


@cli.script("prepare_glue.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_dir(args.out, "--out")
    check_dictionary_file(args.dict, "--dict")
    jobs = ([(TASKS[t], os.path.join(args.glue_dir, TASKS[t].folder), os.path.join(args.out, t)) for t in GLUE_TASKS]
            if args.task == "all" else [(TASKS[args.task], args.input, args.out)])
    for task, folder, out in jobs:
        write_task(task, folder, out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
