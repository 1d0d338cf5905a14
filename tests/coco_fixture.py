"""A COCO-captions fixture in the real formats (Karpathy's dataset_coco.json and COCO's
captions_{train,val}2014.json) over real images of the bundled data:
- the 8 photographs with their human-written caption (images/photos/captions.json);
- CIFAR-10 images captioned from their class name. THESE CAPTIONS ARE TEMPLATED (several
  phrasings per class, three per image), not human captions: they make a learnable, checkable
  signal, nothing more.
The images are linked, not copied: root/photos and root/cifar point into the bundled data, and
root/{train2014,val2014}/ hold per-file links named as COCO names its files."""
import json
import os
from pathlib import Path

from helpers import require_data

PHRASINGS = ("a photo of a {c}", "a small picture of a {c}", "an image showing a {c}",
             "a blurry photo of the {c}", "there is a {c} in this picture")


def fixture_images(classes=("airplane", "cat", "ship"), per_class=12, held_out=3):
    """[(relative path under root, karpathy split, [captions], cocoid)]: CIFAR train images of
    ``classes`` (the last ``2 * held_out`` per class become val and test), and the photos (6 train,
    1 restval, 1 test)."""
    out, cocoid = [], 1
    cifar = require_data("images", "cifar10", "train")
    for ci, c in enumerate(classes):
        files = sorted(os.listdir(cifar / c))[:per_class]
        for k, name in enumerate(files):
            split = "val" if k >= per_class - 2 * held_out and k < per_class - held_out else \
                "test" if k >= per_class - held_out else ("restval" if k % 4 == 3 else "train")
            caps = [PHRASINGS[(k + j + ci) % len(PHRASINGS)].format(c=c) for j in range(3)]
            out.append((f"cifar/{c}/{name}", split, caps, cocoid))
            cocoid += 1
    photos = json.loads(require_data("images", "photos", "captions.json").read_text())
    for k, (name, caption) in enumerate(sorted(photos.items())):
        out.append((f"photos/{name}", "test" if k == 7 else "restval" if k == 6 else "train", [caption], cocoid))
        cocoid += 1
    return out


def make_root(tmp):
    root = Path(tmp) / "images"
    root.mkdir(parents=True, exist_ok=True)
    for link, target in (("photos", require_data("images", "photos")), ("cifar", require_data("images", "cifar10", "train"))):
        if not (root / link).exists():
            (root / link).symlink_to(target, target_is_directory=True)
    return root


def karpathy_json(images):
    return {"dataset": "coco", "images": [
        {"filepath": str(Path(p).parent), "filename": Path(p).name, "cocoid": i, "imgid": n, "split": s,
         "sentids": list(range(3 * n, 3 * n + len(caps))),
         "sentences": [{"raw": c[0].upper() + c[1:] + ".", "tokens": c.split(), "imgid": n} for c in caps]}
        for n, (p, s, caps, i) in enumerate(images)]}


def coco_jsons(images, root):
    """({"train2014": captions json, "val2014": ...}); Karpathy's val and test come from val2014."""
    out = {y: {"info": {}, "licenses": [], "images": [], "annotations": []} for y in ("train2014", "val2014")}
    ann = 1
    for p, s, caps, i in images:
        year = "train2014" if s in ("train", "restval") else "val2014"
        name = f"COCO_{year}_{i:012d}{Path(p).suffix}"
        (root / year).mkdir(exist_ok=True)
        if not (root / year / name).exists():
            (root / year / name).symlink_to((root / p).resolve())
        out[year]["images"].append({"id": i, "file_name": name, "width": 32, "height": 32})
        for c in caps:
            out[year]["annotations"].append({"image_id": i, "id": ann, "caption": c[0].upper() + c[1:] + "."})
            ann += 1
    return out


def write_fixture(tmp, images=None):
    """(root, karpathy path, {year: captions path}, images) written under ``tmp``."""
    tmp = Path(tmp)
    images = images or fixture_images()
    root = make_root(tmp)
    karpathy = tmp / "dataset_coco.json"
    karpathy.write_text(json.dumps(karpathy_json(images)))
    captions = {}
    for year, data in coco_jsons(images, root).items():
        captions[year] = tmp / f"captions_{year}.json"
        captions[year].write_text(json.dumps(data))
    return root, karpathy, captions, images
