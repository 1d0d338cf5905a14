"""A checked ImageFolder (``root/<class>/<image>``) for evaluation and multi-crop pretraining.

Every image is converted to RGB (grayscale, palette, RGBA and CMYK files all work). Problems are
clear errors naming the folder or file: a missing root, a root without class folders, an empty
class folder, an undecodable image. ``skip_bad=True`` verifies every file up front and counts and
drops the undecodable ones instead.
"""
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import DataError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class ImageInputError(DataError):
    """Bad image data: the message names the folder or file."""


def load_rgb(path):
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageInputError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None


def scan_image_folder(root):
    """(samples [(path, class index)], class names) in sorted order, as torchvision's ImageFolder."""
    root = Path(root)
    if not root.is_dir():
        raise ImageInputError(f"{root}: image folder not found (expected root/<class>/<image files>)")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ImageInputError(f"{root}: no class folders (expected root/<class>/<image files>)")
    samples = []
    for idx, name in enumerate(classes):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in EXTENSIONS)
        if not files:
            raise ImageInputError(f"{root / name}: empty class folder (no {', '.join(EXTENSIONS[:3])}... files)")
        samples.extend((str(f), idx) for f in files)
    return samples, classes


class CheckedImageFolder:
    """``dataset[i]`` -> (transform(RGB image), class index)."""

    def __init__(self, root, transform=None, skip_bad=False):
        self.root = str(root)
        self.samples, self.classes = scan_image_folder(root)
        self.transform = transform
        self.skipped = []
        if skip_bad:
            good = []
            for path, label in self.samples:
                try:
                    load_rgb(path)
                    good.append((path, label))
                except ImageInputError as e:
                    self.skipped.append(str(e))
            self.samples = good

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        img = load_rgb(path)
        return (self.transform(img) if self.transform else img), label

    @property
    def targets(self):
        return [label for _, label in self.samples]

