#!/usr/bin/env python
"""The vision comparison at tiny CPU scale on an ImageFolder tree (default: the bundled CIFAR-10):
data2vec v1, data2vec 2.0, MAE, DINO, a supervised ViT and an untrained backbone, on one backbone
size, data and budget, each scored by fine-tuning top-1, k-NN and linear probe (mean pooling), over
several seeds. Prints and writes a Markdown table (mean ± std over seeds) and a JSON of every run.

Per seed: each method's tiny pretraining recipe (config/pretraining/<recipe> +tiny=...), then its
tiny fine-tuning recipe (config/finetuning/imagenet_* +tiny=...). The supervised ViT is
imagenet_v2 with model.no_pretrained_weights=true (data2vec 2.0's architecture from random init);
the untrained row is the frozen-feature floor (an untrained copy of the data2vec 2.0 checkpoint).
A finished run is never recomputed (its result JSON exists), so a rerun resumes.
Example (about 9 minutes per seed on 2 CPU cores):
  python scripts/vision_compare.py --out runs/vision_compare --seeds 1,2,3
"""
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from d2v_ext import cli
from d2v_ext.errors import ConfigError, D2vExtError
from d2v_ext.launch import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train_command, tiny_override
from d2v_ext.paths import shared_data_dir
from d2v_ext.study.vision import METHODS as STUDY_METHODS
from d2v_ext.study.vision import TINY_FINETUNE

# method: (pretraining recipe or None, fine-tuning recipe, extra fine-tuning overrides), the study's
LABELS = {"data2vec": "data2vec v1", "data2vec2": "data2vec 2.0", "mae": "MAE", "dino": "DINO",
          "supervised": "supervised ViT", "untrained": "untrained"}
METHODS = {LABELS[k]: v for k, v in STUDY_METHODS.items()}
SCRIPTS = Path(__file__).resolve().parent


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--data", default=str(shared_data_dir() / "images" / "cifar10"), help="ImageFolder root (train/, val/)")
    p.add_argument("--out", required=True, help="folder for every run and the table")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of: {', '.join(METHODS)}")
    return p.parse_args(argv)


def train(config_dir, name, run, *overrides):
    ckpt = run / "ckpt" / "checkpoint_last.pt"
    if (run / "done").exists():
        return ckpt
    run.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    cmd = hydra_train_command(config_dir, name, *overrides, run_dir=run, save_dir=run / "ckpt")
    with open(run / "console.log", "w") as log:
        rc = subprocess.run(cmd, cwd=run, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS="1")).returncode
    if rc != 0:
        raise D2vExtError(f"{' '.join(cmd)} failed (exit {rc}); see {run / 'console.log'}")
    (run / "done").touch()
    print(f"[vision_compare] {run}: {name} trained in {time.time() - t0:.0f}s", flush=True)
    return ckpt


def script(name, *args):
    rc = subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True)
    if rc.returncode != 0:
        raise D2vExtError(f"{name} {' '.join(map(str, args))} failed:\n{rc.stdout[-1500:]}{rc.stderr[-1500:]}")


def result(path, make):
    if not Path(path).exists():
        make()
    return json.loads(Path(path).read_text())["top1"]


def run_seed(args, seed, out, methods):
    data, res = os.path.abspath(args.data), {}
    ckpts = {}
    for m in methods:
        pre = METHODS[m][0]
        if pre:
            ckpts[m] = train(PRETRAIN_CONFIGS, pre, out / "pretrain" / pre, tiny_override(pre),
                             f"task.data={data}", f"common.seed={seed}")
    base = ckpts.get("data2vec 2.0") or train(PRETRAIN_CONFIGS, "image_v2", out / "pretrain" / "image_v2",
                                              tiny_override("image_v2"), f"task.data={data}", f"common.seed={seed}")
    untrained = out / "untrained.pt"
    if not untrained.exists():
        script("untrained_checkpoint.py", base, "--out", untrained, "--seed", seed)
    for m in methods:
        pre, ft, extra = METHODS[m]
        backbone = ckpts.get(m, untrained)
        row = {}
        if ft:
            run = out / "finetune" / m.replace(" ", "_")
            fck = train(FINETUNE_CONFIGS, ft, run, f"+tiny={TINY_FINETUNE[ft]}", f"task.data={data}",
                        f"model.model_path={backbone}", f"common.seed={seed}", *extra)
            row["finetune"] = result(run / "eval.json", lambda: script("eval_image.py", fck, "--out", run / "eval.json"))
            if not pre:  # supervised: its fine-tuned features are its frozen features
                backbone = fck
        tag = m.replace(" ", "_")
        row["knn"] = result(out / f"knn_{tag}.json", lambda: script(
            "knn_eval.py", backbone, "--data", data, "--pool", "mean", "--out", out / f"knn_{tag}.json"))
        row["probe"] = result(out / f"probe_{tag}.json", lambda: script(
            "linear_probe.py", backbone, "--data", data, "--pool", "mean", "--out", out / f"probe_{tag}.json"))
        res[m] = row
    return res


def table(all_results, methods, seeds):
    def cell(m, key):
        vals = [all_results[s][m][key] for s in seeds if key in all_results[s][m]]
        if not vals:
            return "–"
        return f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else f"{vals[0]:.1f}"

    lines = [f"| method | fine-tune top-1 | k-NN top-1 (mean pool) | linear probe top-1 (mean pool) |",
             "|---|---|---|---|"]
    lines += [f"| {m} | {cell(m, 'finetune')} | {cell(m, 'knn')} | {cell(m, 'probe')} |" for m in methods]
    return "\n".join(lines) + f"\n\nmean ± std over seeds {', '.join(map(str, seeds))}; chance 10.0 on CIFAR-10.\n"


@cli.script("vision_compare.py")
def main(argv=None):
    args = parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"--methods: unknown {unknown}; expected some of {list(METHODS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    all_results, start = {}, time.time()
    for i, seed in enumerate(seeds):
        t0 = time.time()
        all_results[seed] = run_seed(args, seed, out / f"seed{seed}", methods)
        done = time.time() - start
        print(f"[vision_compare] seed {seed} done in {time.time() - t0:.0f}s ({i + 1}/{len(seeds)}; "
              f"ETA {done / (i + 1) * (len(seeds) - i - 1):.0f}s): {json.dumps(all_results[seed])}", flush=True)
    md = table(all_results, methods, seeds)
    cli.write_atomic(out / "table.md", md)
    cli.write_atomic(out / "results.json", json.dumps(all_results, indent=2))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
