"""Upstream bug fix: the data2vec v1 text teacher sees only the masked tokens (fairseq issue #4881).

With ``task.include_target_tokens=true`` fairseq's ``masked_lm`` task passes ``target_tokens`` =
MaskTokensDataset's *targets*: the original token at every masked position and <pad> everywhere
else. Upstream's ``Data2VecTextEncoder.forward`` feeds that to the EMA teacher, so the teacher
encodes a sequence that is mostly padding (its attention ignores pads) instead of the unmasked
sentence the paper describes ("the teacher ... encodes the unmasked training sample"). The fix
rebuilds the full sequence before upstream's forward runs: the target where it holds a token, the
student's input elsewhere. A target that already is the full sequence passes through unchanged.
"""
from ..data.masked_lm import unmasked_tokens
from .signature import install_wrapper


def text_teacher_sees_full_sequence():
    """Make Data2VecTextEncoder's teacher encode the unmasked sequence (fairseq #4881)."""
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextEncoder

    def wrap(original):
        def forward(self, src_tokens, target_tokens=None, *args, **kwargs):
            if target_tokens is not None:
                target_tokens = unmasked_tokens(src_tokens, target_tokens, self.dictionary.pad())
            return original(self, src_tokens, target_tokens, *args, **kwargs)

        return forward

    install_wrapper(Data2VecTextEncoder, "forward", "self, src_tokens, target_tokens=None, features_only=False, "
                    "return_all_hiddens=False, masked_tokens=None, **unused", wrap, "teacher_input")
