"""Fix: ``ValueError: bits must be between or equal to 1 and 8`` in ImageNet fine-tuning (Pillow >= 11.3).

Upstream's fine-tuning transforms use timm's RandAugment ``rand-m9-mstd0.5-inc1``; its
``PosterizeIncreasing`` op keeps ``4 - int(magnitude / 10 * 4)`` bits, which is 0 once the
magnitude noise reaches 10. Pillow used to posterize to 0 bits by masking every bit (a black
image); it now raises, which kills the data loader a few batches into training. timm's posterize
op gets a wrapper that returns what Pillow used to return for 0 bits; 1..8 bits are untouched.
"""
from .signature import expect_signature


def black_like(img):
    """What ``ImageOps.posterize(img, 0)`` returned before Pillow checked ``bits``: every channel
    masked with ``~(2**8 - 1)``, i.e. 0 (alpha included, as the lookup table covers every band)."""
    return img.point([0] * 256 * len(img.getbands()))


def randaugment_posterize_zero_bits():
    """timm's posterize with ``bits_to_keep < 1`` gives the black image older Pillow gave."""
    from timm.data import auto_augment

    original = auto_augment.posterize
    if getattr(original, "_d2v_ext_zero_bits", False):
        return
    expect_signature(original, "img, bits_to_keep, **__")

    def posterize(img, bits_to_keep, **kwargs):
        if bits_to_keep < 1:
            return black_like(img)
        return original(img, bits_to_keep, **kwargs)

    posterize.__wrapped__, posterize._d2v_ext_zero_bits = original, True
    auto_augment.posterize = posterize
    for name, op in list(auto_augment.NAME_TO_OP.items()):  # the ops table holds the function itself
        if op is original:
            auto_augment.NAME_TO_OP[name] = posterize
