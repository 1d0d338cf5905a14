"""Relative position bias for a smaller window, from BEiT/data2vec's shared bias table.

The table of a (H, W) window holds one entry per offset (dy, dx) in [-(H-1), H-1] x [-(W-1), W-1]
plus three CLS entries; every offset of an (h, w) window with h <= H, w <= W is in it. So crops
smaller than the training resolution (DINO's local crops) get exact biases with no interpolation.
"""
import functools

import torch

from ..errors import ConfigError


@functools.lru_cache(maxsize=16)
def sub_window_index(H, W, h, w):
    """(h*w+1, h*w+1) indices into the (H, W) table, laid out as upstream's relative_position_index."""
    n = (2 * H - 1) * (2 * W - 1) + 3
    coords = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    index = torch.zeros((h * w + 1,) * 2, dtype=torch.long)
    index[1:, 1:] = (rel[..., 0] + H - 1) * (2 * W - 1) + rel[..., 1] + W - 1
    index[0, 0:] = n - 3
    index[0:, 0] = n - 2
    index[0, 0] = n - 1
    return index


def sub_window_bias(rel_pos_bias, h, w):
    """(heads, h*w+1, h*w+1) bias for an (h, w) patch grid; None when the model has no shared bias
    (then only the full window works, through the blocks' own biases)."""
    if rel_pos_bias is None:
        return None
    H, W = rel_pos_bias.window_size
    if h > H or w > W:
        raise ConfigError(f"task.local_size/input_size: a crop of {h}x{w} patches is larger than the model's "
                          f"{H}x{W} window (model.image_size / model.patch_size)")
    idx = sub_window_index(H, W, h, w).to(rel_pos_bias.relative_position_bias_table.device)
    table = rel_pos_bias.relative_position_bias_table
    return table[idx.view(-1)].view(h * w + 1, h * w + 1, -1).permute(2, 0, 1).contiguous()
