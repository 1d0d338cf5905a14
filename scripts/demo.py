#!/usr/bin/env python
"""The main demo on the bundled data: prepare real text, pretrain a tiny data2vec text model
through fairseq-hydra-train with the plugin, and say where its log and checkpoint are.

Example:  python scripts/demo.py --out runs/demo
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from d2v_ext.paths import shared_data_dir  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "runs" / "demo"), help="where everything is written")
    p.add_argument("--data", default=str(shared_data_dir()), help="bundled data folder (or $D2V_EXT_DATA)")
    p.add_argument("--pretrain-updates", type=int, default=600, help="pretraining updates (tiny model)")
    return p.parse_args(argv)


def step(msg):
    print(f"\n==> {msg}", flush=True)


def run(cmd, log_path, cwd=None):
    """Run a command, stream a short progress line per json log record, keep the full log."""
    t0 = time.time()
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, PYTHONUNBUFFERED="1"))
        for line in p.stdout:
            log.write(line)
            if "][train_inner][INFO] - {" in line or "][valid][INFO] - {" in line:
                d = json.loads(line.split(" - ", 1)[1])
                keys = [k for k in ("num_updates", "loss", "valid_loss", "ema_decay", "accuracy",
                                    "valid_accuracy") if k in d]
                print("    " + "  ".join(f"{k}={d[k]}" for k in keys), flush=True)
        rc = p.wait()
    if rc != 0:
        sys.exit(f"demo: command failed (exit {rc}); full log: {log_path}\n  {' '.join(map(str, cmd))}")
    print(f"    done in {time.time() - t0:.0f}s (log: {log_path})", flush=True)


def pretraining_corpus(data: Path, out: Path):
    """Real English text: botchan.txt plus the SQuAD v1.1 dev paragraphs, one document each."""
    squad = json.loads((data / "squad" / "dev-v1.1.json").read_text())
    contexts = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    corpus = out / "pretrain_corpus.txt"
    corpus.write_text((data / "text" / "botchan.txt").read_text(encoding="utf-8-sig")
                      + "\n\n" + "\n\n".join(contexts) + "\n")
    return corpus


def pretrain(args, out: Path):
    data = Path(args.data)
    bin_dir = out / "pretrain-bin"
    step("1/2 prepare pretraining text (GPT-2 BPE + fairseq binarizer)")
    corpus = pretraining_corpus(data, out)
    run([sys.executable, str(ROOT / "scripts" / "prepare_text.py"), str(corpus), "--out", str(bin_dir),
         "--workers", "2", "--quiet"], out / "prepare_text.log")
    step(f"2/2 pretrain a tiny data2vec text model ({args.pretrain_updates} updates, CPU)")
    run_dir = out / "pretrain"
    run([str(Path(sys.executable).parent / "fairseq-hydra-train"), "--config-dir",
         str(ROOT / "config" / "pretraining"), "--config-name", "tiny_text_v1",
         f"common.user_dir={ROOT / 'd2v_ext'}", f"task.data={bin_dir}", f"hydra.run.dir={run_dir}",
         f"checkpoint.save_dir={run_dir / 'ckpt'}", f"optimization.max_update={args.pretrain_updates}",
         f"model.ema_anneal_end_step={args.pretrain_updates}", "checkpoint.save_interval_updates=200"],
        out / "pretrain.log")
    return run_dir / "ckpt" / "checkpoint_last.pt", bin_dir


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not (Path(args.data) / "text" / "botchan.txt").is_file():
        sys.exit(f"demo: bundled data not found under {args.data} (set D2V_EXT_DATA or --data)")
    ckpt, bin_dir = pretrain(args, out)
    print(f"\npretraining log:  {out / 'pretrain.log'}\ncheckpoint:       {ckpt}\ndata:             {bin_dir}")


if __name__ == "__main__":
    main()
