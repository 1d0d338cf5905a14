#!/usr/bin/env python
"""Where each training step's time goes, for every pretraining recipe, built as fairseq-hydra-train
builds it (composed config, task, dataset, model, criterion, fairseq Trainer).

For each recipe and size (tiny: the +tiny recipe; base: the paper's model, ViT-B/16 at 224 px or
RoBERTa-base at 512 tokens, with a small batch) it times --steps training steps after --warmup and
prints a Markdown table (and --out JSON): median step time, throughput (input tokens or images per
second), the step's parts (data loading, student forward+backward, teacher forward, EMA update,
optimizer step; d2v_ext/bench/timing.py says what each covers), peak memory (RSS on CPU, max
allocated on CUDA), FLOPs per step, and on CUDA the model FLOPs utilisation against the device's
peak. --compare runs upstream's paths and the fast paths (d2v_ext/fast) step by step alternately
in the same process and prints the ratios. Each recipe runs in its own process (clean peak memory).
It runs unchanged on a GPU (extra overrides after --, e.g. -- common.bf16=true).
Examples:
  python scripts/benchmark.py --quick                      # every recipe, tiny, 2 steps (the tests run this)
  python scripts/benchmark.py --recipes image_v2,text_v2 --sizes base --steps 5 --compare --out bench.json
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from d2v_ext import cli

HERE = Path(__file__).resolve().parent


def parse_args(argv=None):
    from d2v_ext.bench.run import RECIPES

    p = cli.parser(__doc__)
    p.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated subset of {', '.join(RECIPES)}")
    p.add_argument("--sizes", default="tiny", help="tiny, base or tiny,base (default tiny)")
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5; the median is reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--batch", type=int, default=2, help="base size: images (or 512-token sequences) per step")
    p.add_argument("--compare", action="store_true", help="upstream's paths against the fast paths, same process")
    p.add_argument("--fast", default=None, help="comma-separated fast paths of the fast path (default: the defaults, "
                   "d2v_ext/fast; e.g. ema,sdpa,compile)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 steps after 1 warm-up (a smoke run)")
    p.add_argument("--work", default=None, help="cache folder for the prepared text data (default: a temp folder)")
    p.add_argument("--out", help="JSON output path")
    p.add_argument("--md", help="write the Markdown table to this file")
    p.add_argument("--child", help=argparse_hidden())
    p.add_argument("overrides", nargs="*", help="extra hydra overrides for every recipe (after --)")
    args = p.parse_args(argv)
    if args.fast is not None:
        from d2v_ext import fast

        names = [n for n in args.fast.split(",") if n]
        if any(n not in fast.AVAILABLE for n in names):
            p.error(f"--fast: unknown {[n for n in names if n not in fast.AVAILABLE]}; available: {list(fast.AVAILABLE)}")
    if args.quick:
        args.sizes, args.steps, args.warmup = "tiny", 2, 1
    unknown = [r for r in args.recipes.split(",") if r not in RECIPES]
    if unknown:
        p.error(f"--recipes: unknown {unknown}; expected some of {list(RECIPES)}")
    if any(s not in ("tiny", "base") for s in args.sizes.split(",")):
        p.error("--sizes: expected tiny, base or tiny,base")
    return args


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def text_data(work):
    """A binarized corpus (GPT-2 BPE) of the bundled botchan.txt, prepared once into ``work``."""
    from d2v_ext.paths import shared_data_dir

    out = Path(work) / "text-bin"
    if not (out / "train.bin").exists():
        rc = subprocess.run([sys.executable, str(HERE / "prepare_text.py"), str(shared_data_dir() / "text" / "botchan.txt"),
                             "--out", str(out), "--quiet", "--workers", "1"], capture_output=True, text=True)
        if rc.returncode != 0:
            raise cli.D2vExtError(f"prepare_text.py failed:\n{rc.stdout[-1000:]}{rc.stderr[-1000:]}")
    return out


def child(args):
    """Run one recipe at one size in this process; print its JSON."""
    from d2v_ext.bench.run import run

    recipe, size, data = args.child.split(":", 2)
    modes = ("upstream", "fast") if args.compare else ("fast",)
    names = None if args.fast is None else [n for n in args.fast.split(",") if n]
    res = run(recipe, size, data, args.steps, args.warmup, args.batch, modes, args.overrides,
              log=lambda m: print(m, file=sys.stderr, flush=True), fast_names=names)
    print("BENCH_JSON " + json.dumps(res), flush=True)


def row(recipe, size, mode, r):
    from d2v_ext.bench.flops import mfu

    ms = lambda s: f"{1000 * s:.1f}"  # noqa: E731
    u = mfu(r["gflop_per_step"], r["step"], r["device"])
    return (f"| {recipe} | {size} | {r['params'] / 1e6:.1f}M | {mode} | {ms(r['step'])} | {r['first_step']:.1f} | {r['throughput']:.3g} {r['unit']}/s | "
            f"{ms(r['data'])} | {ms(r['student'])} | {ms(r['teacher'])} | {ms(r['ema'])} | {ms(r['optimizer'])} | "
            f"{r['peak_mb']:.0f} | {r['gflop_per_step']:.1f} | {'%.1f%%' % (100 * u) if u else '-'} |")


HEADER = ("| recipe | size | params | path | step ms | first step s | throughput | data ms | student fwd+bwd ms | teacher fwd ms | "
          "EMA ms | optimizer ms | peak MB | GFLOP/step | MFU |\n|" + "---|" * 15)


@cli.script("benchmark.py")
def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    cli.check_output_file(args.out, "--out")
    cli.check_output_file(args.md, "--md")
    import tempfile

    from d2v_ext.bench.run import RECIPES
    from d2v_ext.paths import shared_data_dir

    work = args.work or tempfile.mkdtemp(prefix="d2v_bench_")
    images = shared_data_dir() / "images" / "cifar10"
    results, lines = {}, [HEADER]
    for recipe in args.recipes.split(","):
        data = text_data(work) if RECIPES[recipe][2] == "text" else images
        for size in args.sizes.split(","):
            print(f"[benchmark] {recipe} {size} ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", f"{recipe}:{size}:{data}",
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch", str(args.batch)]
            cmd += ["--compare"] if args.compare else []
            cmd += ["--fast", args.fast] if args.fast is not None else []
            cmd += ["--", *args.overrides] if args.overrides else []
            p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
            found = [line for line in p.stdout.splitlines() if line.startswith("BENCH_JSON ")]
            if p.returncode != 0 or not found:
                raise cli.D2vExtError(f"{recipe} {size} failed (exit {p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
            res = json.loads(found[-1][len("BENCH_JSON "):])
            results[f"{recipe}:{size}"] = res
            for mode, r in res.items():
                lines.append(row(recipe, size, mode, r))
            if "upstream" in res and "fast" in res:
                u, f = res["upstream"], res["fast"]
                ema = f"{u['ema'] / f['ema']:.2f}x" if f["ema"] > 0 else "-"
                lines.append(f"| {recipe} | {size} | | **fast / upstream** | **{u['step'] / f['step']:.2f}x** | | | | | | "
                             f"**{ema}** | | | | |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        cli.write_atomic(args.out, json.dumps(results, indent=2))
    if args.md:
        cli.write_atomic(args.md, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
