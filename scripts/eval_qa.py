#!/usr/bin/env python
"""Evaluate a SQuAD fine-tuned data2vec_text_qa checkpoint on SQuAD-format files (SQuAD, XQuAD, ...).

For each file: n-best span decoding over all windows (answers at most --max-answer-len tokens),
answers mapped back to the original characters, the official SQuAD v1.1 EM/F1, the oracle EM/F1
(best token span a model could pick: what tokenisation and windowing lose) and the trivial
first-3-words baseline. Writes, under --out: results.md (one row per file plus the average),
results.json, and predictions/<name>.json in the official {id: answer} format (each file as soon
as it is done). Every input file is read and checked before the model is loaded, so a malformed
file stops the run before anything is written; earlier outputs in --out stay as they were. The
language is read from names like xquad.de.json.
Example:
  python scripts/eval_qa.py runs/squad/ckpt/checkpoint_best.pt ../shared/data/xquad/xquad.*.json --out runs/xquad
"""
import json
import os
import sys
from pathlib import Path

from d2v_ext import cli
from d2v_ext.errors import ConfigError


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="fine-tuned QA checkpoint (config/finetuning/squad.yaml)")
    p.add_argument("files", nargs="+", help="SQuAD v1.1-format json files")
    p.add_argument("--out", help="output folder (default: print the table only)")
    p.add_argument("--dict", help="the dictionary, if the checkpoint's task.dict_file has moved")
    p.add_argument("--batch-size", type=int, default=64, help="windows per forward pass (default 64)")
    p.add_argument("--n-best", type=int, default=20, help="start/end candidates per window (default 20)")
    p.add_argument("--max-answer-len", type=int, default=30, help="longest answer in tokens (default 30)")
    p.add_argument("--max-questions", type=int, default=0, metavar="N",
                   help="score only the first N questions of each file (file order; XQuAD's languages share "
                        "it, so the same questions in each). Default: all")
    p.add_argument("--no-oracle", action="store_true",
                   help="leave out the oracle EM/F1 (model-independent; about a third of the time)")
    p.add_argument("--skip-bad-examples", action="store_true",
                   help="count and skip malformed questions instead of stopping")
    p.add_argument("--gpu", action="store_true", help="run the model on CUDA when available")
    return p.parse_args(argv)


def file_label(path):
    name = Path(path).name
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "xquad":
        return parts[1]
    return name[:-5] if name.endswith(".json") else name


def _num(v):
    return "—" if v is None else f"{v:.1f}"


def markdown(rows, avg):
    from d2v_ext.evaluation.paper_numbers import XQUAD_F1

    head = ("| file | questions | EM | F1 | oracle EM | oracle F1 | first-3-words F1 | mBERT F1 (published) |\n"
            "|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows + [avg]:
        ref = XQUAD_F1["mBERT"].get(r["name"])
        lines.append(f"| {r['name']} | {r['questions']} | {r['exact_match']:.1f} | {r['f1']:.1f} | "
                     f"{_num(r['oracle_exact_match'])} | {_num(r['oracle_f1'])} | {r['baseline_f1']:.1f} | "
                     f"{'—' if ref is None else ref} |")
    return head + "\n".join(lines) + "\n"


def write_json(path, obj):
    cli.write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=1))


@cli.script("eval_qa.py")
def main(argv=None):
    args = parse_args(argv)
    import d2v_ext  # noqa: F401  (registers the task and model)
    from d2v_ext.data.dictionary import check_dictionary_file
    from d2v_ext.data.squad_json import read_squad_examples
    from d2v_ext.evaluation.qa_baselines import first_words_predictions
    from d2v_ext.evaluation.qa_predict import load_qa_checkpoint, predict_file
    from d2v_ext.evaluation.squad_metric import squad_scores

    out = cli.check_output_dir(args.out, "--out")
    if args.max_questions < 0:
        raise ConfigError(f"--max-questions {args.max_questions}: expected a positive number (0: all)")
    for path in args.files:  # every file is checked before the model loads or anything is written
        read_squad_examples(path, skip_bad=args.skip_bad_examples)
    overrides = {"skip_bad_examples": args.skip_bad_examples}
    if args.dict:
        overrides["dict_file"] = os.path.abspath(check_dictionary_file(args.dict, "--dict"))
    model, task = load_qa_checkpoint(args.checkpoint, overrides, cpu=not args.gpu)
    rows = []
    for i, path in enumerate(args.files, 1):
        name = file_label(path)
        print(f"[{i}/{len(args.files)}] {name}: {path}", flush=True)
        res, preds, tokenized = predict_file(model, task, path, args.batch_size, args.n_best, args.max_answer_len,
                                             args.max_questions, not args.no_oracle)
        refs = {te.example.qid: te.example.answer_texts for te in tokenized}
        res["baseline_f1"] = squad_scores(first_words_predictions(tokenized), refs)["f1"]
        res.update(name=name, file=os.path.abspath(path))
        rows.append(res)
        print(f"    {res['questions']} questions, {res['windows']} windows, {res['seconds']} s: EM {res['exact_match']:.1f}"
              f"  F1 {res['f1']:.1f}  oracle F1 {_num(res['oracle_f1'])}  first-3-words F1 {res['baseline_f1']:.1f}"
              + (f"  ({res['skipped']} skipped)" if res["skipped"] else ""), flush=True)
        if out:
            write_json(out / "predictions" / f"{name}.json", preds)
    keys = ("exact_match", "f1", "oracle_exact_match", "oracle_f1", "baseline_f1")
    avg = {"name": "average", "questions": sum(r["questions"] for r in rows),
           **{k: None if rows[0][k] is None else sum(r[k] for r in rows) / len(rows) for k in keys}}
    table = markdown(rows, avg)
    print("\n" + table)
    if out:
        cli.write_atomic(out / "results.md", f"# QA evaluation of {os.path.abspath(args.checkpoint)}\n\n{table}")
        write_json(out / "results.json", {"checkpoint": os.path.abspath(args.checkpoint), "files": rows,
                                          "average": avg, "n_best": args.n_best,
                                          "max_questions": args.max_questions or None,
                                          "max_answer_len": args.max_answer_len})
        print(f"wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'predictions'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
