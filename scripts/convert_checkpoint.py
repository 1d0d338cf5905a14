#!/usr/bin/env python
"""Convert checkpoints between fairseq (d2v_ext / upstream data2vec) and Hugging Face transformers.

  to-transformers CHECKPOINT --out DIR     a fairseq checkpoint -> a transformers model folder
      data2vec_text, data2vec_text_dino (pretraining)   -> Data2VecTextModel
      data2vec_text + sentence_prediction (GLUE)        -> Data2VecTextForSequenceClassification
      data2vec_text_qa (SQuAD, v1 backbone)             -> Data2VecTextForQuestionAnswering
      roberta (masked_lm / sentence_prediction)         -> RobertaForMaskedLM / ...ForSequenceClassification
      data2vec_multi text (2.0), data2vec_text_classification (2.0 GLUE) -> Data2VecTextModel / ...ForSequenceClassification
      data2vec_vision, data2vec_dino (pretraining)      -> Data2VecVisionModel
      data2vec_image_classification (fine-tuned)        -> Data2VecVisionForImageClassification
    Text folders get the tokenizer (vocab.json in the checkpoint's dictionary order, GPT-2 merges).
  from-transformers MODEL_DIR --out DIR    a transformers folder -> DIR/checkpoint.pt (+ dictionaries)
    usable as checkpoint.restore_file (GLUE), model.model_path (SQuAD, image fine-tuning), or by the
    probes; the dictionary follows the tokenizer's vocab.json, or a given --dict.
--verify runs both models on bundled real data (SST-2 sentences, CIFAR-10 images) and prints the
largest difference per layer; it fails above --tolerance. Nothing is written if anything fails.
Examples:
  python scripts/convert_checkpoint.py to-transformers run/ckpt/checkpoint_last.pt --out hf/d2v_text --verify
  python scripts/convert_checkpoint.py from-transformers ~/hf/data2vec-text-base --out ckpt/d2v_text_base --verify
"""
import json
import os
import sys

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("direction", choices=("to-transformers", "from-transformers"))
    p.add_argument("source", help="a fairseq checkpoint file (to-transformers) or a transformers model folder")
    p.add_argument("--out", required=True, help="output folder (new or empty)")
    p.add_argument("--dict", help="fairseq dict.txt (when the checkpoint's task.data moved; from-transformers: the "
                                  "dictionary whose order the fairseq embedding must follow)")
    p.add_argument("--vocab", help="the tokenizer's vocab.json (default: MODEL_DIR/vocab.json)")
    p.add_argument("--encoder-json", help="GPT-2 encoder.json (default: the bundled one)")
    p.add_argument("--merges", help="GPT-2 vocab.bpe written as merges.txt (default: the bundled one)")
    p.add_argument("--weights", choices=("student", "teacher"), default="student",
                   help="pretraining checkpoints: the student or the EMA teacher (v1 vision: encoder only)")
    p.add_argument("--data", help="folder for building fine-tuning models in --verify (GLUE: the prepared data; "
                                  "images: an ImageFolder root; default: the checkpoint's or the bundled data)")
    p.add_argument("--verify", action="store_true", help="compare both models on real data before writing")
    p.add_argument("--tolerance", type=float, default=None, help="largest allowed difference (default 1e-5)")
    return p.parse_args(argv)


def print_differences(diffs, tolerance):
    from d2v_ext.convert.verify import worst
    from d2v_ext.errors import CheckpointMismatchError

    width = max(len(k) for k in diffs)
    print(f"{'output':<{width}}  max |fairseq - transformers|  max |value|")
    for k, (d, scale) in diffs.items():
        print(f"{k:<{width}}  {d:<28.3g}  {scale:.3g}")
    largest = worst(diffs)
    if not largest <= tolerance:
        raise CheckpointMismatchError(f"--verify: largest difference {largest:.3g} (relative to the output's size "
                                      f"where above 1) exceeds {tolerance:g}; nothing written")
    print(f"verified: largest difference {largest:.3g} <= {tolerance:g} (relative to the output's size where above 1)")


def to_transformers(args, tolerance):
    from d2v_ext.checkpoint import checkpoint_kind, load_state
    from d2v_ext.convert import folders, text_convert, verify, vision_convert
    from d2v_ext.paths import default_gpt2_bpe_files, shared_data_dir

    state = load_state(args.source)
    model_name, task_name = checkpoint_kind(state)
    with folders.staged_folder(args.out) as tmp:
        if model_name in vision_convert.PRETRAINING + ("data2vec_image_classification",):
            model, report = vision_convert.to_transformers(state, args.weights)
            diffs = verify.vision_differences(state, model, args.data or shared_data_dir() / "images" / "cifar10") \
                if args.verify else None
        else:
            if args.weights == "teacher":
                from d2v_ext.errors import ConfigError
                raise ConfigError("--weights teacher: only for vision checkpoints (text: convert the student)")
            enc, merges = args.encoder_json or default_gpt2_bpe_files()[0], args.merges or default_gpt2_bpe_files()[1]
            model, files, report = text_convert.to_transformers(state, args.dict, enc)
            diffs = None
            if args.verify:
                dictionary = text_convert.text_dictionary(state, args.dict)
                data = args.data or str(state["cfg"]["task"].get("data", "")).split(os.pathsep)[0]
                diffs = verify.text_differences(state, model, dictionary, data)
            report["tokenizer"] = folders.write_tokenizer(tmp, files["vocab.json"], merges, enc)
        if diffs is not None:
            print_differences(diffs, tolerance)
            report["max_abs_difference"] = {k: d for k, (d, _) in diffs.items()}
            report["max_abs_value"] = {k: v for k, (_, v) in diffs.items()}
        model.save_pretrained(str(tmp))
        report.update(source=os.path.abspath(args.source), fairseq_model=model_name, fairseq_task=task_name)
        (tmp / "conversion.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"convert_checkpoint.py: wrote {args.out} ({report['class']}, {report['layers']} layers)")
    return 0


def from_transformers(args, tolerance):
    from d2v_ext.checkpoint import load_state
    from d2v_ext.convert import folders, text_convert, verify, vision_convert
    from d2v_ext.paths import default_gpt2_bpe_files, shared_data_dir

    model, model_type = folders.load_transformers_model(args.source)
    out = os.path.abspath(args.out)
    with folders.staged_folder(args.out) as tmp:
        if model_type in folders.VISION_TYPES:
            state, report = vision_convert.from_transformers(model, data=args.data or "", source=args.source)
            files = {}
        else:
            vocab = args.vocab or os.path.join(args.source, "vocab.json")
            state, files, report = text_convert.from_transformers(
                model, out, dict_path=args.dict, vocab_json=vocab if os.path.isfile(vocab) or args.vocab else None,
                encoder_json=args.encoder_json or default_gpt2_bpe_files()[0], source=args.source)
        folders.write_text_files(tmp, files)
        import torch

        torch.save(state, tmp / "checkpoint.pt")
        written = load_state(tmp / "checkpoint.pt")  # what the plugin's safe loader reads back
        if args.verify:
            if model_type in folders.VISION_TYPES:
                diffs = verify.vision_differences(written, model, args.data or shared_data_dir() / "images" / "cifar10")
            else:
                dictionary = text_convert.text_dictionary({"cfg": {"task": dict(written["cfg"]["task"], data=str(tmp))}},
                                                          None)
                diffs = verify.text_differences(written, model, dictionary, tmp, report.get("rows"))
            print_differences(diffs, tolerance)
            report["max_abs_difference"] = {k: d for k, (d, _) in diffs.items()}
            report["max_abs_value"] = {k: v for k, (_, v) in diffs.items()}
        report.pop("rows", None)  # (the vocabulary map: the dictionary written beside the checkpoint holds it)
        (tmp / "conversion.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"convert_checkpoint.py: wrote {os.path.join(args.out, 'checkpoint.pt')} (fairseq {report['fairseq_model']} "
          f"from transformers {report['class']})")
    return 0


@cli.script("convert_checkpoint.py")
def main(argv=None):
    args = parse_args(argv)
    from d2v_ext.convert.verify import TOLERANCE
    from d2v_ext.errors import CheckpointMismatchError

    tolerance = TOLERANCE if args.tolerance is None else args.tolerance
    cli.check_output_dir(args.out)
    run = to_transformers if args.direction == "to-transformers" else from_transformers
    try:
        return run(args, tolerance)
    except KeyError as e:  # a tensor or config entry the mapping needs
        raise CheckpointMismatchError(f"{args.source}: missing {e.args[0]!r}, which the conversion needs; the "
                                      "checkpoint is incomplete or of another model; nothing written") from None
    except RuntimeError as e:
        if "size mismatch" not in str(e) and "Missing key" not in str(e) and "Unexpected key" not in str(e):
            raise
        raise CheckpointMismatchError(f"{args.source}: {str(e).strip().splitlines()[0]} "
                                      f"({' '.join(str(e).split()[-30:])}); nothing written") from None


if __name__ == "__main__":
    sys.exit(main())
