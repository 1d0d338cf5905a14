"""COCO captions: reading Karpathy's split file and/or the official caption annotations, with
every problem named by file, entry and field (prepare_coco.py writes what this reads).

- Karpathy's ``dataset_coco.json``: ``images[]`` with ``filepath``, ``filename``, ``cocoid``,
  ``split`` (train / restval / val / test) and ``sentences[]`` (``raw``, ``tokens``). train +
  restval is the training split (113,287 images), val and test 5,000 each.
- COCO's ``captions_{train,val}2014.json``: ``images[]`` (``id``, ``file_name``) and
  ``annotations[]`` (``image_id``, ``caption``); the file's split is train2014 or val2014.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError, MissingInputError

KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "valid", "test": "test"}
SPLITS = ("train", "valid", "test")


@dataclass
class CocoImage:
    image_id: int
    path: str  # relative to the images root
    split: str  # train / valid / test
    captions: list = field(default_factory=list)
    where: str = ""  # file and entry, for messages


class Problems:
    """Bad entries: raised at the end as one error, or (``skip``) counted and the entries dropped."""

    def __init__(self, skip):
        self.skip, self.items = skip, []

    def add(self, where, what):
        self.items.append(f"{where}: {what}")

    def check(self, hint="give --skip-bad to leave such images out (they are counted and listed in meta.json)"):
        if self.items and not self.skip:
            shown = "\n  ".join(self.items[:10])
            more = f"\n  ... and {len(self.items) - 10} more" if len(self.items) > 10 else ""
            raise DataError(f"{len(self.items)} bad COCO entr{'y' if len(self.items) == 1 else 'ies'}:\n  {shown}{more}\n{hint}")


def read_json(path, what):
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{what} {path}: {'is a folder' if path.is_dir() else 'not found'}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None


def _list(data, key, path, expected):
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a top-level '{key}' list ({expected})")
    return value


def _fields(entry, names, where, problems):
    if not isinstance(entry, dict):
        problems.add(where, f"expected an object, got {type(entry).__name__}")
        return False
    missing = [n for n in names if n not in entry]
    if missing:
        problems.add(where, f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        return False
    return True


def _clean(captions, where, problems):
    """Captions stripped; an empty one is a problem of the image (it would train on nothing)."""
    out = []
    for j, c in enumerate(captions):
        if not isinstance(c, str) or not c.strip():
            problems.add(where, f"caption {j} is empty")
            return None
        out.append(" ".join(c.split()))
    if not out:
        problems.add(where, "no captions")
        return None
    return out


def karpathy_images(path, problems):
    """The images of Karpathy's split file, with their split and raw captions."""
    data = read_json(path, "--karpathy")
    out = []
    for i, im in enumerate(_list(data, "images", path, "Karpathy's dataset_coco.json")):
        where = f"{path}: images[{i}]"
        if not _fields(im, ("filepath", "filename", "cocoid", "split", "sentences"), where, problems):
            continue
        where += f" (cocoid {im['cocoid']})"
        if im["split"] not in KARPATHY_SPLITS:
            problems.add(where, f"split {im['split']!r} is not one of Karpathy's ({', '.join(KARPATHY_SPLITS)})")
            continue
        sentences = im["sentences"] if isinstance(im["sentences"], list) else []
        raws = [s.get("raw") if isinstance(s, dict) else None for s in sentences]
        captions = _clean(raws, where, problems)
        if captions is not None:
            out.append(CocoImage(int(im["cocoid"]), str(Path(im["filepath"]) / im["filename"]),
                                 KARPATHY_SPLITS[im["split"]], captions, where))
    return out


def coco_split_of(path):
    """train / valid from an annotation file's name (captions_train2014.json, captions_val2017.json)."""
    m = re.search(r"(train|val)(\d{4})", Path(path).name)
    if not m:
        raise DataError(f"--captions {path}: cannot tell its split from the name (expected e.g. captions_train2014.json); "
                        "name it as FILE:SPLIT with SPLIT train, valid or test")
    return ("train" if m.group(1) == "train" else "valid"), f"{m.group(1)}{m.group(2)}"


def coco_captions(path, problems):
    """{image_id: (file_name, [captions], where)} of a COCO caption annotation file."""
    data = read_json(path, "--captions")
    images = {}
    for i, im in enumerate(_list(data, "images", path, "COCO caption annotations")):
        where = f"{path}: images[{i}]"
        if _fields(im, ("id", "file_name"), where, problems):
            images[int(im["id"])] = (im["file_name"], [], f"{where} (id {im['id']})")
    for k, a in enumerate(_list(data, "annotations", path, "COCO caption annotations")):
        where = f"{path}: annotations[{k}]"
        if not _fields(a, ("image_id", "caption"), where, problems):
            continue
        if int(a["image_id"]) not in images:
            problems.add(where, f"image_id {a['image_id']} is not in images[]")
            continue
        images[int(a["image_id"])][1].append(a["caption"])
    out = {}
    for image_id, (name, caps, where) in images.items():
        if not caps:
            problems.add(where, "an image id without captions (no annotation names it)")
            continue
        caps = _clean(caps, where, problems)
        if caps is not None:
            out[image_id] = (name, caps, where)
    return out


def collect(karpathy=None, captions=(), problems=None, image_dir=lambda folder, name: name):
    """The images to prepare: Karpathy's splits (captions from ``captions`` files where given,
    else Karpathy's raw sentences), or, without a Karpathy file, each annotation file's split.
    ``captions`` holds (path, split or None); ``image_dir(folder, file_name)`` locates a COCO file."""
    annotated = {}
    for path, split in captions:
        split, folder = coco_split_of(path) if split is None else (split, None)
        for image_id, (name, caps, where) in coco_captions(path, problems).items():
            annotated[image_id] = (image_dir(folder, name), caps, split, where)
    if karpathy is None:
        return [CocoImage(i, p, s, c, w) for i, (p, c, s, w) in annotated.items()]
    images = karpathy_images(karpathy, problems)
    if annotated:
        kept = []
        for im in images:
            if im.image_id not in annotated:
                problems.add(im.where, "no captions in the --captions files for this cocoid")
                continue
            im.captions = annotated[im.image_id][1]
            kept.append(im)
        images = kept
    return images


def ground_truth(images):
    """COCO's caption ground-truth format (what pycocotools' COCO() and pycocoevalcap read)."""
    anns, n = [], 0
    for im in images:
        for c in im.captions:
            n += 1
            anns.append({"image_id": im.image_id, "id": n, "caption": c})
    return {"info": {"description": "d2v_ext prepare_coco.py references"}, "licenses": [], "type": "captions",
            "images": [{"id": im.image_id, "file_name": im.path} for im in images], "annotations": anns}
