#!/usr/bin/env python
"""Caption a split with a data2vec_captioning checkpoint and score it as the captioning literature
does (d2v_ext/evaluation/caption_metrics.py): pycocoevalcap's PTB tokenizer, BLEU-1..4, METEOR,
ROUGE-L, CIDEr-D and SPICE (reported unavailable, with the reason, where its Stanford models are
absent), plus sacrebleu corpus BLEU. Decoding is fairseq's SequenceGenerator (default: beam 3, at
most 20 tokens, no repeated 3-grams). The most-frequent-training-caption baseline (one caption
for every image) is scored beside it.

Writes --results (COCO results format: [{"image_id", "caption"}]), --out JSON (metrics, the
baseline, settings, unavailable metrics), --md (a table beside the published rows) and --grid (a
PNG of images with generated and reference captions).
Example:
  python scripts/eval_captions.py runs/cap/ckpt/checkpoint_best.pt --split test --out eval.json --md eval.md --grid grid.png
"""
import json
import sys
from collections import Counter
from pathlib import Path

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="a data2vec_captioning checkpoint")
    p.add_argument("--data", help="prepare_coco.py output (default: the checkpoint's task.data)")
    p.add_argument("--split", default="test", help="split to caption (default test)")
    p.add_argument("--encoder-checkpoint", help="the encoder's pretraining checkpoint, if it moved since training")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--max-len", type=int, default=20, help="most tokens per caption (default 20)")
    p.add_argument("--no-repeat-ngram", type=int, default=3, help="0 allows repeats (default 3)")
    p.add_argument("--lenpen", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-spice", action="store_true", help="do not try SPICE")
    p.add_argument("--results", help="COCO results json (default: beside --out)")
    p.add_argument("--out", help="metrics JSON")
    p.add_argument("--md", help="Markdown table beside the published rows")
    p.add_argument("--grid", help="PNG grid of images with generated and reference captions")
    p.add_argument("--grid-n", type=int, default=8, help="images in the grid (default 8)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def load(args):
    from fairseq import checkpoint_utils

    from d2v_ext.checkpoint import load_checked

    overrides = {"data": args.data} if args.data else {}
    if args.encoder_checkpoint:
        overrides["encoder_checkpoint"] = args.encoder_checkpoint
    state = load_checked(args.checkpoint, "captioning", models=("data2vec_captioning",),
                         hint=" (train one with config/finetuning/coco_captioning.yaml)", arg_overrides=overrides)
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([args.checkpoint], arg_overrides=overrides,
                                                                      state=state)
    return models[0].eval(), cfg, task


def detokenizer(data, dictionary):
    meta = json.loads((Path(data) / "meta.json").read_text())
    if meta["tokenizer"] == "sentencepiece":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=meta["spm_model"])
        return lambda ids: sp.decode([dictionary[i] for i in ids])
    from d2v_ext.data.bpe import load_gpt2_bpe

    bpe = load_gpt2_bpe(meta["bpe_encoder"], meta["bpe_vocab"])
    return lambda ids: bpe.decode([int(dictionary[i]) for i in ids if dictionary[i].isdigit()]).strip()


def decode(model, task, args, data):
    """{image_id: caption} for every image of the split, and the dataset."""
    from argparse import Namespace

    import torch
    from tqdm import tqdm

    from d2v_ext.data.caption_dataset import CaptionDataset
    from d2v_ext.tasks.coco_captioning import transforms

    task.load_dataset(args.split)  # checks the split's files
    full = task.datasets[args.split]
    ds = CaptionDataset(str(Path(data) / f"{args.split}.images.tsv"), full.captions, task.dictionary,
                        transforms(task.cfg.input_size, train=False), mode="sample", root=full.root)
    gen = task.build_generator([model], Namespace(beam=args.beam, max_len_a=0, max_len_b=args.max_len, min_len=1,
                                                  lenpen=args.lenpen, no_repeat_ngram_size=args.no_repeat_ngram,
                                                  unkpen=0, sampling=False))
    detok = detokenizer(data, task.dictionary)
    eos, out = task.dictionary.eos(), {}
    with torch.no_grad():
        for start in tqdm(range(0, len(ds), args.batch_size), desc=f"captioning {args.split}", disable=args.quiet):
            batch = ds.collater([ds[i] for i in range(start, min(start + args.batch_size, len(ds)))])
            for image_id, hyps in zip(batch["image_id"].tolist(), gen.generate([model], batch)):
                out[image_id] = detok([t for t in hyps[0]["tokens"].tolist() if t != eos])
    return out, ds


def references(data, split):
    gt = json.loads((Path(data) / f"{split}.refs.json").read_text())
    refs = {}
    for a in gt["annotations"]:
        refs.setdefault(a["image_id"], []).append(a["caption"])
    return refs


def most_frequent_caption(data):
    refs = references(data, "train")
    return Counter(" ".join(c.lower().rstrip(".").split()) for v in refs.values() for c in v).most_common(1)[0][0]


def evaluate(refs, hyps, spice):
    from d2v_ext.evaluation.caption_metrics import sacrebleu_bleu, score

    metrics, unavailable, gts, res = score(refs, hyps, spice=spice)
    metrics["sacreBLEU (PTB tokens)"] = sacrebleu_bleu(gts, {k: v[0] for k, v in res.items()})
    metrics["sacreBLEU (raw, 13a)"] = sacrebleu_bleu(refs, hyps, tokenize="13a")
    return metrics, unavailable


COLUMNS = ("BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D", "SPICE")


def markdown(rows, unavailable, split):
    from d2v_ext.evaluation.paper_numbers import COCO_CAPTIONS

    cell = lambda r, c: f"{r[c]:.1f}" if c in r else "–"  # noqa: E731
    lines = [f"| model ({split}) | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(r, c) for c in COLUMNS) + " |" for name, r in rows.items()]
    lines += [f"| published: {name} (Karpathy test) | " + " | ".join(cell(r, c) for c in COLUMNS) + " |"
              for name, r in COCO_CAPTIONS.items()]
    notes = [f"- {k} unavailable: {v}" for k, v in unavailable.items()]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def grid(path, ds, hyps, refs, n):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = ds.images[:n]
    fig, axes = plt.subplots(1, len(rows), figsize=(3 * len(rows), 4.2), squeeze=False)
    for ax, (image_id, rel, _) in zip(axes[0], rows):
        with Image.open(Path(ds.root) / rel) as im:
            ax.imshow(im.convert("RGB"))
        ax.set_axis_off()
        ax.set_title(f"gen: {hyps[image_id]}\nref: {refs[image_id][0]}", fontsize=7, wrap=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@cli.script("eval_captions.py")
def main(argv=None):
    args = parse_args(argv)
    for flag in ("out", "md", "grid", "results"):
        cli.check_output_file(getattr(args, flag), f"--{flag}")
    model, cfg, task = load(args)
    data = args.data or task.cfg.data
    hyps, ds = decode(model, task, args, data)
    refs = references(data, args.split)
    metrics, unavailable = evaluate(refs, hyps, not args.no_spice)
    constant = most_frequent_caption(data)
    baseline, _ = evaluate(refs, {k: constant for k in hyps}, spice=False)
    result = {"checkpoint": str(args.checkpoint), "split": args.split, "images": len(hyps), "metrics": metrics,
              "baseline_most_frequent_caption": {"caption": constant, "metrics": baseline}, "unavailable": unavailable,
              "decoding": {"beam": args.beam, "max_len": args.max_len, "no_repeat_ngram": args.no_repeat_ngram,
                           "lenpen": args.lenpen}}
    results_path = args.results or (str(Path(args.out).with_suffix("")) + ".results.json" if args.out else None)
    if results_path:
        cli.write_atomic(results_path, json.dumps([{"image_id": k, "caption": v} for k, v in hyps.items()]))
    if args.out:
        cli.write_atomic(args.out, json.dumps(result, indent=2))
    table = markdown({"this checkpoint": metrics, f"most frequent caption ({constant!r})": baseline}, unavailable, args.split)
    if args.md:
        cli.write_atomic(args.md, table)
    if args.grid:
        grid(args.grid, ds, hyps, refs, args.grid_n)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
