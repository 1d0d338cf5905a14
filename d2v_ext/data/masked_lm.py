"""What fairseq's ``masked_lm`` task hands a model, turned back into the sentence it came from."""
import torch

from ..errors import ConfigError


def unmasked_tokens(src_tokens, target_tokens, pad):
    """The uncorrupted sequence from masked_lm's (input, target) pair: targets hold the original
    token at masked positions (pad elsewhere); the input holds it everywhere else."""
    if target_tokens.shape != src_tokens.shape:
        raise ConfigError(f"target_tokens {tuple(target_tokens.shape)} and src_tokens {tuple(src_tokens.shape)} "
                          "differ in shape; both come from masked_lm's batch (task.include_target_tokens=true)")
    return torch.where(target_tokens.ne(pad), target_tokens, src_tokens)
