#!/usr/bin/env python
"""Write an untrained copy of a vision pretraining checkpoint: the same config and architecture,
freshly initialised weights (seeded; the EMA teacher, where there is one, a copy of the student).

Two uses in the comparisons: the floor of every frozen-feature evaluation (k-NN, linear probe: an
untrained ViT already reaches well above chance on CIFAR-10), and the random-init control when
fine-tuned (the same as fine-tuning with model.no_pretrained_weights=true). Works for data2vec v1
(data2vec_vision), data2vec_dino, data2vec 2.0 image (data2vec_multi) and MAE checkpoints.
Example:
  python scripts/untrained_checkpoint.py runs/pre/ckpt/checkpoint_last.pt --out untrained.pt --seed 0
"""
import sys

from d2v_ext import cli


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="a vision pretraining checkpoint (only its config is used)")
    p.add_argument("--out", required=True, help="the untrained checkpoint to write")
    p.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    return p.parse_args(argv)


@cli.script("untrained_checkpoint.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    import io

    import torch

    import d2v_ext  # noqa: F401  (registers the models)
    from d2v_ext.checkpoint.untrained import untrained_state

    state = untrained_state(args.checkpoint, args.seed)
    buf = io.BytesIO()
    torch.save(state, buf)
    cli.write_atomic(args.out, buf.getvalue(), mode="wb")
    print(f"{args.out}: untrained {state['cfg'].model._name} (seed {args.seed}), config of {args.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
