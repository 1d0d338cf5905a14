#!/usr/bin/env python
"""Re-save a checkpoint YOU TRUST in the safe form that d2v_ext (and fairseq through it) loads.

d2v_ext loads every checkpoint with torch's restricted unpickler: tensors, plain containers,
omegaconf configs, argparse.Namespace and numpy scalars, nothing else (a checkpoint is a pickle and
could otherwise run code when loaded). A legacy checkpoint that needs more (other classes, enums,
numpy arrays) is refused with the global it needs. If you trust where the file comes from, this
script loads it ONCE with the unrestricted unpickler, converts what the allow-list does not cover
(dataclasses -> dicts, enums -> values, paths -> strings, numpy arrays -> tensors), writes --out,
and checks that the safe loader reads the result. The input file is never changed.
Example:
  python scripts/trust_checkpoint.py old_model.pt --out old_model.safe.pt --i-trust-this-file
"""
import os
import sys

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="the trusted checkpoint to convert")
    p.add_argument("--out", required=True, help="where to write the safe copy (must differ from the input)")
    p.add_argument("--i-trust-this-file", action="store_true",
                   help="required: you trust the file's source (loading it unrestricted can run code)")
    return p.parse_args(argv)


@cli.script("trust_checkpoint.py")
def main(argv=None):
    args = parse_args(argv)
    import torch

    from d2v_ext.checkpoint import safe_torch_load
    from d2v_ext.checkpoint.resave import to_safe
    from d2v_ext.errors import ConfigError, MissingInputError

    if not args.i_trust_this_file:
        raise ConfigError("--i-trust-this-file is required: this script unpickles the file without restrictions, "
                          "which runs any code it holds; pass it only for a file whose source you trust")
    if not os.path.isfile(args.checkpoint):
        raise MissingInputError(f"checkpoint {args.checkpoint}: not found")
    if os.path.abspath(args.out) == os.path.abspath(args.checkpoint):
        raise ConfigError(f"--out {args.out} is the input; write the safe copy to another file")
    cli.check_output_file(args.out, "--out")
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)  # trusted by the user
    safe = to_safe(state)
    tmp = f"{args.out}.tmp"
    try:
        torch.save(safe, tmp)
        safe_torch_load(tmp, path=args.out)  # the safe loader must read what we wrote
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"trust_checkpoint.py: wrote {args.out} (loads with d2v_ext's safe loader)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
