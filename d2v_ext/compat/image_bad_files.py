"""Fix: an unreadable image stops upstream's image training with PIL's bare error, hours in.

``ImageDataset`` (v1 vision, ``image_classification``), ``MaeImageDataset`` (2.0 / MAE pretraining)
and ``MaeFinetuningImageDataset`` (``mae_image_classification``) open every image with PIL inside
``__getitem__``; a truncated, corrupt or zero-byte file raises ``OSError: image file is truncated``
or ``cannot identify image file <_io.BufferedReader ...>`` from a data-loader worker, naming no
file. Such an error is now an :class:`~d2v_ext.data.image_folder.ImageInputError` naming the file
and the way out (``scripts/prepare_imagenet.py --exclude-bad``); other errors pass unchanged.
"""
import importlib

from .signature import install_wrapper

DATASETS = (("fairseq.examples.data2vec.data.image_dataset", "ImageDataset"),
            ("fairseq.examples.data2vec.data.mae_image_dataset", "MaeImageDataset"),
            ("fairseq.examples.data2vec.data.mae_finetuning_image_dataset", "MaeFinetuningImageDataset"))


def image_path(dataset, index):
    """The file behind ``dataset[index]`` (upstream keeps ``files`` or a torchvision ImageFolder)."""
    if hasattr(dataset, "files"):
        return dataset.files[index]
    return dataset.dataset.samples[index][0]


def _named(original):
    def __getitem__(self, index):
        from ..data.image_folder import ImageInputError

        try:
            return original(self, index)
        except OSError as e:  # PIL's decode errors (UnidentifiedImageError is an OSError)
            path = image_path(self, index)
            raise ImageInputError(f"{path}: cannot decode image ({type(e).__name__}: {e}); check the tree with "
                                  "scripts/prepare_imagenet.py (--exclude-bad DIR moves such files out)") from None

    return __getitem__


def image_datasets_name_bad_files():
    """Upstream's image datasets raise an error naming the file when PIL cannot read it."""
    for module, name in DATASETS:
        cls = getattr(importlib.import_module(module), name)
        install_wrapper(cls, "__getitem__", "self, index", _named, "bad_file_named")
