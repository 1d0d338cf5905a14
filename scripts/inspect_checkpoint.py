#!/usr/bin/env python
"""Print what a fairseq checkpoint is, before you load it: model, task, architecture, dictionary size,
config keys today's fairseq does not know (older releases), training updates, EMA teacher and heads.

The file is read with d2v_ext's safe unpickler and not upgraded, so an old release shows what it
carries: an args-era Namespace, unknown cfg keys (dropped with a warning when the plugin loads it),
a task.data / dictionary path that does not exist here (pass --dict to the scripts, or fine-tune
with the GLUE data: its input0/dict.txt is used).
Example:
  python scripts/inspect_checkpoint.py ~/ckpt/nlp_base.pt
  python scripts/inspect_checkpoint.py run/ckpt/checkpoint_last.pt --json
"""
import json
import sys

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", nargs="+", help="checkpoint file(s)")
    p.add_argument("--json", action="store_true", help="print one JSON object per checkpoint")
    return p.parse_args(argv)


def show(info):
    arch = ", ".join(f"{k} {v}" for k, v in info["architecture"].items()) or "(not in the config)"
    lines = [
        info["file"],
        f"  model       {info['model']}  (task {info['task']}; arch {info['arch']}; {info['config']})",
        f"  architecture {arch}; {info['parameters']:,} parameter values",
        f"  dictionary  {str(info['dictionary_size']) + ' symbols' if info['dictionary_size'] is not None else 'none'}"
        f"; task.data {info['task_data']} ({'exists' if info['task_data_exists'] else 'NOT FOUND here'})",
        f"  training    {info['updates']} updates, epoch {info['epoch']}, best {info['best']}",
        f"  teacher     {'EMA teacher saved' if info['ema_teacher'] else 'none'}; heads: "
        f"{', '.join(info['heads']) or 'none (headless)'}",
        f"  cfg keys today's fairseq does not know: {', '.join(info['unknown_cfg_keys']) or 'none'}",
    ]
    if info["converted_from"]:
        lines.append(f"  converted from {info['converted_from']}")
    print("\n".join(lines))


@cli.script("inspect_checkpoint.py")
def main(argv=None):
    args = parse_args(argv)
    from d2v_ext.checkpoint.describe import describe
    from d2v_ext.errors import MissingInputError
    import os

    for path in args.checkpoint:
        if not os.path.isfile(path):
            raise MissingInputError(f"checkpoint {path}: not found")
        info = describe(path)
        print(json.dumps(info)) if args.json else show(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
