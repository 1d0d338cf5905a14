#!/usr/bin/env python
"""COCO captions -> the coco_captioning task's data: per-split image manifests, the binarized
captions (fairseq indexed dataset, GPT-2 BPE or SentencePiece from local files) and the untokenised
references in COCO's ground-truth format (for eval_captions.py / pycocoevalcap).

Inputs: Karpathy's split file (--karpathy dataset_coco.json: train + restval -> train, val -> valid,
test -> test) and/or COCO's caption annotations (--captions captions_train2014.json ...; with
--karpathy they supply the captions, without it each file's name gives its split: train2014 ->
train, val2014 -> valid; FILE:SPLIT names it), plus the image root (--images: Karpathy's
filepath/filename, or COCO's <train2014|val2014>/file_name, under it).

Every image is decoded once (parallel workers). A missing or corrupt image, an empty caption, an
image without captions or a split that is not Karpathy's is an error naming the file and entry, and
nothing is written; --skip-bad leaves such images out instead, counted and listed in meta.json.

Writes to --out (atomically: a failure leaves the folder as it was):
  {split}.images.tsv   first line the image root, then image_id<TAB>relative path<TAB>captions
  {split}.bin/.idx     every caption's tokens, in image order (an image's captions are consecutive)
  {split}.refs.json    the references, COCO ground-truth format
  dict.txt, meta.json  the dictionary (built from train, or --dict) and counts / skipped entries
Example:
  python scripts/prepare_coco.py --karpathy dataset_coco.json --images /data/coco --out data-bin/coco
"""
import json
import os
import sys
from pathlib import Path

from d2v_ext import cli
from d2v_ext.data.coco import SPLITS, Problems, collect, ground_truth
from d2v_ext.errors import DataError
from d2v_ext.paths import default_gpt2_bpe_files, shared_data_dir


def parse_args(argv=None):
    enc, voc = default_gpt2_bpe_files()
    spm = shared_data_dir() / "sentencepiece" / "en_unigram_1k.model"
    p = cli.parser(__doc__)
    p.add_argument("--karpathy", help="Karpathy's dataset_coco.json")
    p.add_argument("--captions", nargs="*", default=[], help="COCO caption annotation files, each FILE or FILE:SPLIT")
    p.add_argument("--images", required=True, help="the image root")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--tokenizer", choices=("gpt2", "sentencepiece"), default="gpt2", help="default gpt2 (data2vec text's)")
    p.add_argument("--bpe-encoder", default=enc, help="GPT-2 encoder.json (default: bundled copy)")
    p.add_argument("--bpe-vocab", default=voc, help="GPT-2 vocab.bpe (default: bundled copy)")
    p.add_argument("--spm-model", default=str(spm), help="SentencePiece model (default: the bundled 1k unigram model)")
    p.add_argument("--dict", help="reuse this fairseq dict.txt instead of building one from the train captions")
    p.add_argument("--lowercase", action="store_true", help="lowercase the training captions (references stay as given)")
    p.add_argument("--skip-bad", action="store_true", help="leave bad images out (counted in meta.json) instead of failing")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel workers")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not args.karpathy and not args.captions:
        p.error("give --karpathy and/or --captions")
    args.captions = [_file_split(c, p) for c in args.captions]
    return args


def _file_split(spec, p):
    path, _, split = spec.rpartition(":") if spec.rsplit(":", 1)[-1] in SPLITS else (spec, "", None)
    if split is not None and split not in SPLITS:
        p.error(f"--captions {spec}: SPLIT must be one of {', '.join(SPLITS)}")
    return path, split


def locate(root):
    """COCO's file_name under root/<train2014|val2014>/ when that folder exists, else under root."""
    def image_dir(folder, name):
        return f"{folder}/{name}" if folder and (Path(root) / folder).is_dir() else name

    return image_dir


def check_images(images, root, problems, workers, quiet):
    """Decode every image (in parallel); problems for missing or unreadable ones. Returns the good ones."""
    from tqdm import tqdm

    from d2v_ext.data.image_check import check_images as decode_each

    paths = [str(Path(root) / im.path) for im in images]
    present = [os.path.isfile(p) for p in paths]
    good = []
    checked = decode_each([p for p, ok in zip(paths, present) if ok], workers)
    for im, path, ok in tqdm(zip(images, paths, present), total=len(images), desc="images", disable=quiet):
        if not ok:
            problems.add(im.where, f"image file {path} not found")
            continue
        mode, reason = next(checked)
        if reason:
            problems.add(im.where, f"image file {path} cannot be read ({reason})")
        else:
            good.append(im)
    return good


def tokenize(lines, args):
    """Token strings (space-separated symbols for fairseq's dictionary) of each caption."""
    if args.tokenizer == "gpt2":
        from d2v_ext.data.bpe import encode_lines

        return list(encode_lines(lines, args.bpe_encoder, args.bpe_vocab, workers=args.workers))
    import sentencepiece as spm

    if not Path(args.spm_model).is_file():
        raise DataError(f"--spm-model {args.spm_model}: not found")
    sp = spm.SentencePieceProcessor(model_file=args.spm_model)
    return [" ".join(sp.encode(line, out_type=str)) for line in lines]


def write(images, args, tmp, skipped):
    from d2v_ext.data.binarize import binarize_monolingual

    by_split = {s: [im for im in images if im.split == s] for s in SPLITS}
    if not by_split["train"] and not args.dict:
        raise DataError("no training images (nothing to build the dictionary from); give --dict or training data")
    prefs = {}
    root = str(Path(args.images).resolve())
    for split, ims in by_split.items():
        if not ims:
            continue
        with open(os.path.join(tmp, f"{split}.images.tsv"), "w", encoding="utf-8") as f:
            f.write(root + "\n")
            f.writelines(f"{im.image_id}\t{im.path}\t{len(im.captions)}\n" for im in ims)
        cli.write_atomic(os.path.join(tmp, f"{split}.refs.json"), json.dumps(ground_truth(ims)))
        lines = [c.lower() if args.lowercase else c for im in ims for c in im.captions]
        prefs[split] = os.path.join(tmp, f"{split}.tok")
        with open(prefs[split], "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in tokenize(lines, args))
    binarize_monolingual(tmp, prefs.get("train"), prefs.get("valid"), args.dict, args.workers, dict_flag="--dict",
                         testpref=prefs.get("test"))
    for p in prefs.values():
        os.remove(p)
    meta = {"splits": {s: {"images": len(ims), "captions": sum(len(im.captions) for im in ims)}
                       for s, ims in by_split.items() if ims},
            "skipped": skipped, "tokenizer": args.tokenizer, "lowercase": args.lowercase, "images_root": root,
            "bpe_encoder": args.bpe_encoder, "bpe_vocab": args.bpe_vocab, "spm_model": args.spm_model,
            "sources": {"karpathy": args.karpathy, "captions": [p for p, _ in args.captions]}}
    cli.write_atomic(os.path.join(tmp, "meta.json"), json.dumps(meta, indent=2))
    return meta


@cli.script("prepare_coco.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_dir(args.out, "--out")
    if not Path(args.images).is_dir():
        raise DataError(f"--images {args.images}: not a folder")
    from d2v_ext.data.output_dir import staged_output

    problems = Problems(args.skip_bad)
    images = collect(args.karpathy, args.captions, problems, locate(args.images))
    problems.check()
    images = check_images(images, args.images, problems, args.workers, args.quiet)
    problems.check()
    with staged_output(args.out) as tmp:
        meta = write(images, args, tmp, problems.items)
    counts = ", ".join(f"{s} {c['images']:,} images / {c['captions']:,} captions" for s, c in meta["splits"].items())
    print(f"prepare_coco.py: wrote {args.out} ({counts}; skipped {len(problems.items)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
