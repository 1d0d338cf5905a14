#!/usr/bin/env python
"""Raw text files -> fairseq binarized dataset for data2vec text pretraining (masked_lm task).

Documents are separated by blank lines (``--one-doc-per-line`` makes every line a document, e.g.
for sentence lists). Text is GPT-2 byte-level BPE encoded from LOCAL encoder.json/vocab.bpe files,
in parallel workers, then binarized with fairseq's own dictionary builder and binarizer.

Example:
  python scripts/prepare_text.py ../shared/data/text/botchan.txt --out data-bin/botchan
"""
import os
import sys

from d2v_ext import cli
from d2v_ext.data.binarize import binarize_monolingual
from d2v_ext.data.bpe import TextInputError, encode_lines, read_text_lines
from d2v_ext.data.dictionary import check_dictionary_file
from d2v_ext.data.output_dir import staged_output
from d2v_ext.errors import ConfigError
from d2v_ext.paths import default_gpt2_bpe_files


def parse_args(argv=None):
    enc, voc = default_gpt2_bpe_files()
    p = cli.parser(__doc__)
    p.add_argument("inputs", nargs="+", help="UTF-8 text files (training split)")
    p.add_argument("--out", required=True, help="output folder (dict.txt, train.bin/idx, valid.bin/idx)")
    p.add_argument("--valid", nargs="*", default=None,
                   help="UTF-8 text files for the valid split; if omitted, every --valid-every-th "
                        "non-empty line of the inputs is held out")
    p.add_argument("--valid-every", type=int, default=20,
                   help="hold out every K-th non-empty input line as validation (default 20 = 5%%)")
    p.add_argument("--one-doc-per-line", action="store_true",
                   help="treat every line as its own document (sentence lists such as SST-2)")
    p.add_argument("--srcdict", default=None,
                   help="reuse this fairseq dict.txt (e.g. a checkpoint's) instead of building one")
    p.add_argument("--vocab-size", type=int, default=None, metavar="N",
                   help="keep the N most frequent BPE tokens (fairseq's --nwordssrc; the rest become <unk>); "
                        "default: every token seen. Not with --srcdict")
    p.add_argument("--bpe-encoder", default=enc, help="GPT-2 encoder.json (default: bundled copy)")
    p.add_argument("--bpe-vocab", default=voc, help="GPT-2 vocab.bpe (default: bundled copy)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel workers")
    p.add_argument("--keep-bpe", action="store_true", help="keep the intermediate *.bpe text files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def _document_lines(paths, one_doc_per_line, progress):
    """Yield lines with blank lines marking document boundaries; checks every file has text."""
    for path in paths:
        n = 0
        for line in read_text_lines(path, progress):
            if line.strip():
                n += 1
                yield line
                if one_doc_per_line:
                    yield ""
            else:
                yield ""
        if n == 0:
            raise TextInputError(f"{path}: no text (the file is empty or has only blank lines)")
        yield ""  # a file always ends a document


def _split(lines, held_out_every):
    """Route lines to ('train'|'valid', line). Blank lines (doc boundaries) go to both."""
    k = 0
    for line in lines:
        if not line:
            yield "both", line
            continue
        k += 1
        yield ("valid" if held_out_every and k % held_out_every == 0 else "train"), line


def encode_to_files(tagged, args, files):
    """Encode ``(split, line)`` pairs in parallel and write each split's BPE-id file.

    Blank lines are document boundaries; repeated ones collapse to one. Returns tokens per split.
    """
    counts = {"train": 0, "valid": 0}
    last_blank = {"train": True, "valid": True}
    for tag, ids in encode_lines(tagged, args.bpe_encoder, args.bpe_vocab, workers=args.workers):
        for split in (("train", "valid") if tag == "both" else (tag,)):
            if split not in files:
                continue
            if not ids:
                if not last_blank[split]:
                    files[split].write("\n")
            else:
                files[split].write(ids + "\n")
                counts[split] += ids.count(" ") + 1
            last_blank[split] = not ids
    return counts


def write_bpe_splits(args, tmp, total_bytes):
    """BPE-encode the inputs into tmp/train.bpe and tmp/valid.bpe; return token counts."""
    from tqdm import tqdm

    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="bpe", disable=args.quiet) as bar, \
            open(os.path.join(tmp, "train.bpe"), "w") as tr, open(os.path.join(tmp, "valid.bpe"), "w") as va:
        if not args.valid:
            lines = _document_lines(args.inputs, args.one_doc_per_line, bar)
            return encode_to_files(_split(lines, args.valid_every), args, {"train": tr, "valid": va})
        train = (("train", l) for l in _document_lines(args.inputs, args.one_doc_per_line, bar))
        counts = encode_to_files(train, args, {"train": tr})
        valid = (("valid", l) for l in _document_lines(args.valid, args.one_doc_per_line, bar))
        counts["valid"] = encode_to_files(valid, args, {"valid": va})["valid"]
        return counts


@cli.script("prepare_text.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_dir(args.out, "--out")
    if args.srcdict:
        check_dictionary_file(args.srcdict, "--srcdict")
    if args.vocab_size is not None and (args.vocab_size < 8 or args.srcdict):
        raise ConfigError(f"--vocab-size {args.vocab_size}: expected at least 8, and not with --srcdict "
                          "(a given dictionary is used as it is)")
    inputs = args.inputs + (args.valid or [])
    total = sum(os.path.getsize(p) for p in inputs if os.path.isfile(p))
    with staged_output(args.out) as tmp:
        counts = write_bpe_splits(args, tmp, total)
        if counts["valid"] == 0:
            raise TextInputError(f"{', '.join(args.valid or args.inputs)}: the valid split is empty; give --valid "
                                 "files or more input text")
        paths = {s: os.path.join(tmp, f"{s}.bpe") for s in ("train", "valid")}
        binarize_monolingual(tmp, paths["train"], paths["valid"], args.srcdict, args.workers, nwords=args.vocab_size)
        if not args.keep_bpe:
            for p in paths.values():
                os.remove(p)
    print(f"prepare_text.py: wrote {args.out} (BPE tokens: train {counts['train']:,}, "
          f"valid {counts['valid']:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
