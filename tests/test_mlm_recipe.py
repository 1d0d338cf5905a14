"""The RoBERTa-style MLM baseline (config/pretraining/text_mlm.yaml): the same encoder, data, tokens per
update and schedule as data2vec v1 text, only the objective differs; it trains end to end and
fine-tunes on SST-2 through the same GLUE recipe as data2vec (model=roberta_tiny)."""
import json

import pytest

from helpers import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, composed_recipe, differing, hydra_train, json_records, run_script

OBJECTIVE = {"task.mask_prob", "task.leave_unmasked_prob", "task.random_token_prob", "task.mask_multiple_length",
             "task.include_target_tokens", "criterion"}
# the encoder: text_v1's nested transformer config -> roberta's flat arguments
SAME_ENCODER = {"transformer.encoder.embed_dim": "encoder_embed_dim", "transformer.encoder.ffn_embed_dim": "encoder_ffn_embed_dim",
                "transformer.encoder.layers": "encoder_layers", "transformer.encoder.attention_heads": "encoder_attention_heads",
                "transformer.encoder.normalize_before": "encoder_normalize_before",
                "transformer.encoder.learned_pos": "encoder_learned_pos", "transformer.layernorm_embedding": "layernorm_embedding",
                "transformer.no_scale_embedding": "no_scale_embedding", "transformer.activation_fn": "activation_fn",
                "transformer.dropout": "dropout", "transformer.attention_dropout": "attention_dropout",
                "transformer.max_source_positions": "max_positions"}


@pytest.mark.parametrize("tiny", [False, True])
def test_only_the_objective_differs_from_text_v1(tiny):
    v1 = composed_recipe(PRETRAIN_CONFIGS, "text_v1", *(["+tiny=text_v1"] if tiny else []))
    mlm = composed_recipe(PRETRAIN_CONFIGS, "text_mlm", *(["+tiny=text_mlm"] if tiny else []))
    outside_model = {k for k in differing([v1, mlm]) if not k.startswith("model.")}
    assert outside_model == OBJECTIVE
    assert mlm["criterion"] == "masked_lm" and mlm["model._name"] == "roberta"
    assert (mlm["task.mask_prob"], mlm["task.leave_unmasked_prob"], mlm["task.random_token_prob"]) == (0.15, 0.1, 0.1)
    for v1_key, mlm_key in SAME_ENCODER.items():
        assert v1[f"model.{v1_key}"] == mlm[f"model.{mlm_key}"], v1_key
    ft = composed_recipe(FINETUNE_CONFIGS, "sst_2", *(["+tiny=glue", "model=roberta_tiny"] if tiny else ["model=roberta_base"]))
    for v1_key, mlm_key in SAME_ENCODER.items():  # the fine-tuning model is the pretrained encoder
        if mlm_key not in ("dropout", "attention_dropout"):
            assert ft[f"model.{mlm_key}"] == mlm[f"model.{mlm_key}"], mlm_key


@pytest.mark.e2e
def test_mlm_pretrains_and_finetunes_on_sst2_through_the_glue_recipe(tiny_pretrained, tmp_path):
    from helpers import prepare_sst2

    _, dictionary = tiny_pretrained
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_mlm", tmp_path / "pre", "+tiny=text_mlm", f"task.data={dictionary.parent}",
                          "optimization.max_update=40")
    assert rc == 0, log[-3000:]
    train = json_records(log)  # train_inner, every 10 updates
    assert "RobertaModel(" in log and train and train[-1]["loss"] < train[0]["loss"]  # the MLM loss falls
    mlm = tmp_path / "pre" / "ckpt" / "checkpoint_last.pt"
    sst2 = prepare_sst2(tmp_path / "sst_2", dictionary, 1000)
    rc, log = hydra_train(FINETUNE_CONFIGS, "sst_2", tmp_path / "ft", "+tiny=glue", "model=roberta_tiny",
                          f"checkpoint.restore_file={mlm}", f"task.data={sst2}", "optimization.max_update=30")
    assert rc == 0, log[-3000:]
    assert f"Loaded checkpoint {mlm}" in log and "Overwriting classification_heads.sentence_classification_head" in log
    valid = json_records(log, "valid")
    assert valid and 0 < valid[-1]["valid_accuracy"] <= 100
    rc, out = run_script("eval_glue.py")(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", "--data", sst2, "--task", "sst_2",
                                         "--out", tmp_path / "eval.json")
    assert rc == 0, out
    acc = json.loads((tmp_path / "eval.json").read_text())["splits"]["valid"]["accuracy"]
    assert acc == pytest.approx(valid[-1]["valid_accuracy"], abs=0.051)
