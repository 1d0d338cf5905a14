"""bf16 training (common.bf16=true) with the plugin on CPU: data2vec v1 vision, data2vec 2.0 image
(with the fast paths: foreach EMA from the fp32 master copy, SDPA attention) and data2vec_dino train
through fairseq-hydra-train, and their losses stay within bf16's rounding of the fp32 run's."""
import math

import pytest

from helpers import PRETRAIN_CONFIGS, hydra_train, json_records, require_data

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("recipe,tiny", [("vision_v1", "vision_v1"), ("image_v2", "image_v2"),
                                         ("image_dino_both", "image_dino")])
def test_bf16_trains_like_fp32(recipe, tiny, tmp_path):
    cifar = require_data("images", "cifar10")
    losses = {}
    for dtype in ("fp32", "bf16"):
        extra = ["common.bf16=true"] if dtype == "bf16" else []
        rc, log = hydra_train(PRETRAIN_CONFIGS, recipe, tmp_path / dtype, f"+tiny={tiny}", f"task.data={cifar}",
                              "optimization.max_update=20", "common.log_interval=10", *extra)
        assert rc == 0, log[-3000:]
        if dtype == "bf16":
            assert "'bf16': True" in log
        losses[dtype] = [r["loss"] for r in json_records(log)]
    assert len(losses["bf16"]) == len(losses["fp32"]) == 2
    for a, b in zip(losses["fp32"], losses["bf16"]):
        assert math.isfinite(b) and abs(a - b) <= 0.05 * abs(a) + 0.05, losses
