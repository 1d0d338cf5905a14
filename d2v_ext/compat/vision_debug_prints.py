"""Fix: upstream data2vec v1 vision prints tensor sizes from every block, every forward.

``data2vec_vision.py`` has leftover ``print("inside block :", ...)``, ``print("attn.size() :", ...)``
and ``print("rel_pos_bias.size() :", ...)`` in ``forward`` (three lines per layer per batch), and
``RelativePositionBias.forward`` prints five more, whole tensors included: they flood the training log. That module gets a ``print`` that drops exactly these messages.
"""
import builtins
import importlib

MODULE = "fairseq.examples.data2vec.models.data2vec_vision"
DEBUG_PREFIXES = ("inside block :", "attn.size() :", "rel_pos_bias.size() :",
                  # RelativePositionBias.forward: five lines, whole tensors included, per forward
                  "self.window_size :", "self.num_relative_distance :", "self.relative_position_index :",
                  "relative_position_bias.size(), relative_position_bias :",
                  "self.relative_position_bias_table.size(), self.relative_position_bias_table :")


def _print_without_debug(*args, **kwargs):
    if args and isinstance(args[0], str) and args[0].startswith(DEBUG_PREFIXES):
        return
    builtins.print(*args, **kwargs)


def silence_vision_debug_prints():
    """Drop upstream's per-block debug prints in data2vec v1 vision (other prints pass through)."""
    importlib.import_module(MODULE).print = _print_without_debug
