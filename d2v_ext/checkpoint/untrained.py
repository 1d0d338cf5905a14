"""An untrained copy of a vision pretraining checkpoint: the same config and architecture, a fresh
(seeded) initialisation. It is the floor every frozen-feature evaluation is compared with, and,
fine-tuned, the random-init ("supervised ViT") control. Its EMA teacher, where the model has one, is
a copy of the fresh student (the EMA starts as a copy)."""
import torch

from ..errors import WrongCheckpointError
from .configs import model_config_as
from .kinds import load_checked

UNTRAINED_MODELS = ("data2vec_vision", "data2vec_dino", "data2vec_multi", "mae")


def fresh_model(cfg, backbone_only=False):
    """A freshly initialised model of a checkpoint's ``cfg.model`` (one of UNTRAINED_MODELS), built
    without an EMA teacher; ``backbone_only`` leaves out data2vec_dino's DINO head."""
    name = cfg.model._name
    if name in ("data2vec_vision", "data2vec_dino"):
        from ..models.data2vec_dino import Data2VecDinoConfig, Data2VecDinoModel

        extra = {"target": "data2vec"} if backbone_only else {}
        return Data2VecDinoModel.build_model(model_config_as(Data2VecDinoConfig, cfg.model, **extra))
    if name == "data2vec_multi":
        from fairseq.examples.data2vec.models.data2vec2 import Data2VecMultiConfig, Data2VecMultiModel

        return Data2VecMultiModel.build_model(model_config_as(Data2VecMultiConfig, cfg.model, skip_ema=True))
    from fairseq.examples.data2vec.models.mae import MaeModel

    return MaeModel.build_model(cfg.model)


def untrained_state(path, seed=0):
    """The checkpoint dict at ``path`` with every weight replaced by a fresh initialisation."""
    state = load_checked(path, "vision pretraining", models=UNTRAINED_MODELS)
    torch.manual_seed(seed)
    fresh = fresh_model(state["cfg"]).state_dict()
    ema = state["model"].pop("_ema", None)
    missing = sorted(k for k in state["model"] if k not in fresh)
    if missing and state["cfg"].model._name != "data2vec_dino":  # data2vec_dino keeps its DINO head
        raise WrongCheckpointError(f"{path}: tensors the {state['cfg'].model._name} config does not build: "
                                   f"{', '.join(missing[:5])}")
    state["model"] = {k: fresh[k] if k in fresh else v for k, v in state["model"].items()}
    if ema is not None:
        prefix = "encoder." if state["cfg"].model.get("ema_transformer_only", True) and \
            state["cfg"].model._name != "data2vec_multi" else ""
        state["model"]["_ema"] = {k: fresh[prefix + k].clone() if prefix + k in fresh else v for k, v in ema.items()}
    state.pop("last_optimizer_state", None)  # the trained run's Adam moments
    state["extra_state"] = {"untrained_copy_of": str(path), "seed": seed}
    return state
