#!/usr/bin/env python
"""Check an ImageFolder tree (ROOT/train/<class>/*.jpg, ROOT/val/<class>/...) before fine-tuning on it.

Upstream's image_classification and mae_image_classification tasks read the tree directly (no
manifest, no cache), and an unreadable image stops training when a batch first reaches it, hours
in. This checks, before that: every split exists; every split has the same class folders (any
sub-folder of a split is a class); no class folder is empty; every image (.jpg .jpeg .png .ppm .bmp
.pgm .tif .tiff .webp, found recursively) is not zero bytes and is opened and fully decoded by PIL.
Images per class (min/median/max), non-RGB modes (L, RGBA, CMYK, P, ...: a note, they are converted
to RGB at load) and ignored non-image files are reported. Bad files are an error that lists them;
--exclude-bad DIR moves them out of the tree instead (to DIR/<split>/<class>/<path>). Nothing is
moved or written unless every check passes.

Example:
  python scripts/prepare_imagenet.py /data/imagenet --workers 8 --out imagenet_check.json
  python scripts/prepare_imagenet.py /data/imagenet --exclude-bad /data/imagenet_bad
"""
import json
import os
import sys
import time
from pathlib import Path

from d2v_ext import cli
from d2v_ext.data.image_check import bad_files, check_tree, move_bad, non_rgb, short_list
from d2v_ext.errors import ConfigError, DataError

SHOW_BAD = 20


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("root", help="ImageFolder root holding one folder per split")
    p.add_argument("--splits", nargs="+", default=["train", "val"], help="split folders (default: train val)")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="decoding processes (default: min(8, CPU count))")
    p.add_argument("--out", help="write the report (counts per class, modes, bad files) to this JSON file")
    p.add_argument("--exclude-bad", metavar="DIR",
                   help="move unreadable, corrupt and zero-byte files to DIR/<split>/<class>/<path>")
    p.add_argument("--progress-every", type=int, default=10000, metavar="N",
                   help="print a progress line to stderr every N images (default 10000)")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    return args


def check_exclude_dir(root, splits, dest):
    cli.check_output_dir(dest, "--exclude-bad")
    d = Path(dest).resolve()
    inside = [s for s in splits if d == Path(root).resolve() or d.is_relative_to(Path(root, s).resolve())]
    if inside:
        raise ConfigError(f"--exclude-bad {dest}: must be outside {root}/{inside[0]} (upstream would read it)")


class Progress:
    def __init__(self, every):
        self.every, self.start = every, time.time()

    def __call__(self, split, done, total):
        if done == 1:
            self.start = time.time()
        if done % self.every == 0 or (done == total and total >= self.every):
            rate = done / max(time.time() - self.start, 1e-9)
            eta = (total - done) / rate
            print(f"  {split}: {done:,}/{total:,} images ({100 * done / total:.1f}%), {rate:,.0f}/s, "
                  f"ETA {eta / 60:.1f} min", file=sys.stderr, flush=True)


def bad_error(bad):
    lines = [f"  {b['file']}: {b['reason']}" for b in bad[:SHOW_BAD]]
    more = [f"  ... and {len(bad) - SHOW_BAD} more"] if len(bad) > SHOW_BAD else []
    return DataError(f"{len(bad)} bad image file(s) (zero-byte, or PIL cannot decode them); upstream's tasks "
                     "would stop on them mid-training:\n" + "\n".join(lines + more) +
                     "\nrerun with --exclude-bad DIR to move them out of the tree (nothing was moved or written)")


def summary(report, moved, dest):
    lines = [f"prepare_imagenet.py: {report['root']}"]
    for split, s in report["splits"].items():
        modes = {m: n for m, n in s["modes"].items() if m != "RGB"}
        ignored = sum(s["ignored_files"].values())
        lines.append(f"  {split}: {s['images']:,} images, {s['classes']} classes, per class min {s['min']:,} / "
                     f"median {s['median']:,} / max {s['max']:,}; bad files {len(s['bad'])}"
                     + ("; non-RGB " + ", ".join(f"{m} {n:,}" for m, n in modes.items()) if modes else "")
                     + (f"; ignored {ignored} non-image file(s)" if ignored else ""))
    if report["notes"]:
        lines += [f"  note: {n}" for n in report["notes"]]
    if moved:
        lines.append(f"  moved {len(moved)} bad file(s) to {dest}: {short_list(moved, 5)}")
    lines.append(f"Upstream's image_classification / mae_image_classification tasks read this tree directly "
                 f"(no manifest or cache needed): pass task.data={report['root']}"
                 + (" (valid split: dataset.valid_subset=val)" if "val" in report["splits"] else ""))
    return "\n".join(lines)


@cli.script("prepare_imagenet.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    if args.exclude_bad:
        check_exclude_dir(args.root, args.splits, args.exclude_bad)
    report = check_tree(args.root, args.splits, args.workers, Progress(args.progress_every))
    bad = bad_files(report)
    if bad and not args.exclude_bad:
        raise bad_error(bad)
    moved = move_bad(report, args.root, args.exclude_bad) if bad else []
    modes = non_rgb(report)
    report["notes"] = ([f"{sum(modes.values())} non-RGB image(s) ({', '.join(f'{m} {n}' for m, n in modes.items())}): "
                        "converted to RGB at load"] if modes else [])
    report.update(bad_files=len(bad), excluded_to=str(Path(args.exclude_bad).resolve()) if moved else None,
                  non_rgb_modes=modes, task_data=report["root"])
    if args.out:
        cli.write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(summary(report, moved, args.exclude_bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
