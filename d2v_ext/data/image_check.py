"""Check an ImageFolder tree (``root/<split>/<class>/**/<image>``) the way upstream's fairseq image
tasks will read it: every sub-folder of a split is a class (as torchvision's ImageFolder and
upstream's ImageDataset take it), images are found recursively by extension (:data:`EXTENSIONS`,
upstream's list) and every image is opened and fully decoded with PIL, then converted to RGB.

:func:`scan_tree` finds the structural problems (a missing split, class folders that differ between
splits, a class folder without images) before any decoding; :func:`check_tree` then decodes every
image (in parallel) and returns a JSON-able report; :func:`move_bad` moves the bad files out.
"""
import os
import shutil
import statistics
from collections import Counter
from pathlib import Path

from PIL import Image

from ..errors import DataError, MissingInputError, OutputPathError
from .image_folder import EXTENSIONS

LIST_AT_MOST = 20


def short_list(names, n=LIST_AT_MOST):
    names = list(names)
    return ", ".join(names[:n]) + (f", ... ({len(names)} in all)" if len(names) > n else "")


def scan_split(root, split):
    """({class: [image paths relative to root]}, Counter of ignored files by extension)."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise MissingInputError(f"{folder}: split folder not found (expected {root}/{split}/<class>/<images>)")
    classes, ignored = {}, Counter()
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_dir():
            ignored[Path(entry.name).suffix.lower() or "(none)"] += 1  # a file beside the class folders
            continue
        images = []
        for d, _, names in sorted(os.walk(entry.path, followlinks=True)):
            for name in sorted(names):
                if Path(name).suffix.lower() in EXTENSIONS:
                    images.append(Path(d, name).relative_to(root).as_posix())
                else:
                    ignored[Path(name).suffix.lower() or "(none)"] += 1
        if not images:
            raise DataError(f"{entry.path}: empty class folder (no {', '.join(EXTENSIONS)} files); "
                            "remove it or add its images")
        classes[entry.name] = images
    if not classes:
        raise DataError(f"{folder}: no class folders (expected {folder}/<class>/<images>)")
    return classes, ignored


def scan_tree(root, splits):
    """{split: (classes, ignored)}; every split must have the same class folders."""
    scans = {split: scan_split(root, split) for split in splits}
    every = set().union(*(set(c) for c, _ in scans.values()))
    missing = {s: sorted(every - set(c)) for s, (c, _) in scans.items()}
    if any(missing.values()):
        detail = "; ".join(f"missing from {Path(root) / s}: {short_list(m)}" for s, m in missing.items() if m)
        raise DataError(f"class folders differ between splits ({detail}); upstream's tasks need the same "
                        "classes in every split, or the labels would not match")
    return scans


def check_image(path):
    """(PIL mode, None) for a readable image, (None, reason) for a zero-byte or undecodable file."""
    try:
        if os.path.getsize(path) == 0:
            return None, "zero-byte file"
        with Image.open(path) as im:
            mode = im.mode
            im.load()
            im.convert("RGB")
        return mode, None
    except Exception as e:  # noqa: BLE001  (any failure here would stop a training run)
        return None, f"{type(e).__name__}: {e}"


def check_images(paths, workers):
    """check_image of each path, in order (a process pool when workers > 1)."""
    if workers <= 1:
        yield from map(check_image, paths)
        return
    import multiprocessing

    with multiprocessing.Pool(workers) as pool:
        yield from pool.imap(check_image, paths, chunksize=16)


def check_tree(root, splits, workers=1, progress=None):
    """Decode every image of ``splits``; a JSON-able report. ``progress(split, done, total)`` is
    called after every image."""
    report = {"root": str(Path(root).resolve()), "splits": {}}
    for split, (classes, ignored) in scan_tree(root, splits).items():
        files = [(name, rel) for name, rels in classes.items() for rel in rels]
        per_class, modes, bad = Counter(), Counter(), []
        results = check_images([os.path.join(root, rel) for _, rel in files], workers)
        for i, ((name, rel), (mode, reason)) in enumerate(zip(files, results), 1):
            if reason:
                bad.append({"file": rel, "reason": reason})
            else:
                per_class[name] += 1
                modes[mode] += 1
            if progress:
                progress(split, i, len(files))
        counts = [per_class[name] for name in classes]
        median = statistics.median(counts)
        report["splits"][split] = {
            "images": sum(counts), "classes": len(classes),
            "min": min(counts), "median": int(median) if median == int(median) else median, "max": max(counts),
            "per_class": {name: per_class[name] for name in classes},
            "modes": dict(sorted(modes.items())), "bad": bad, "ignored_files": dict(sorted(ignored.items()))}
    return report


def bad_files(report):
    return [b for s in report["splits"].values() for b in s["bad"]]


def non_rgb(report):
    modes = Counter()
    for s in report["splits"].values():
        modes.update({m: n for m, n in s["modes"].items() if m != "RGB"})
    return dict(sorted(modes.items()))


def move_bad(report, root, dest):
    """Move every bad file to ``dest/<split>/<class>/<path>``; checks everything before moving anything."""
    emptied = [f"{root}/{s}/{c}" for s, r in report["splits"].items() for c, n in r["per_class"].items() if n == 0]
    if emptied:
        raise DataError(f"no readable image left in class folder(s) {short_list(emptied)}; fix them by hand")
    moves = [(Path(root, b["file"]), Path(dest, b["file"])) for b in bad_files(report)]
    taken = [str(d) for _, d in moves if os.path.lexists(d)]
    if taken:
        raise OutputPathError(f"--exclude-bad {dest}: would overwrite {short_list(taken)}; choose an empty folder")
    for src, dst in moves:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), str(dst))
    return [str(d) for _, d in moves]
