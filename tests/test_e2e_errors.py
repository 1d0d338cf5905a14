"""The plugin's errors inside fairseq-hydra-train reach the user as the same clean message (hydra
reports them without a traceback), for bad data found at start-up and during training; D2V_EXT_DEBUG=1
shows the traceback; a checkpoint that does not fit the data says why."""
import json
import shutil

import pytest

from helpers import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train, require_data, run_script, squad_overrides

pytestmark = pytest.mark.e2e


def clean(rc, log, *fragments):
    assert rc != 0, log[-2000:]
    assert "Traceback" not in log, log[-3000:]
    for f in fragments:
        assert str(f) in log, (f, log[-3000:])


def test_bad_squad_json_inside_training(tiny_pretrained, tmp_path):
    ckpt, dictionary = tiny_pretrained
    obj = json.loads(require_data("squad", "dev-v1.1.json").read_text())
    qa = obj["data"][0]["paragraphs"][0]["qas"][0]
    qa["answers"][0]["answer_start"] = 3
    (tmp_path / "train.json").write_text(json.dumps(obj))
    overrides = [o for o in squad_overrides(dictionary, ckpt) if not o.startswith(("task.data=", "task.train_file="))]
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp_path / "run", *overrides, f"task.data={tmp_path}",
                          "task.train_file=train.json")
    clean(rc, log, f"{tmp_path / 'train.json'}: id {qa['id']}: answers[0] text", "does not occur at answer_start 3")
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp_path / "debug", *overrides, f"task.data={tmp_path}",
                          "task.train_file=train.json", env={"D2V_EXT_DEBUG": "1"})
    assert rc != 0 and "Traceback" in log and "SquadFormatError" in log


def test_corrupt_image_during_training_and_the_skip_flag(tmp_path):
    tree = tmp_path / "imgs" / "train"
    for cls in ("cat", "ship"):
        shutil.copytree(require_data("images", "cifar10", "train", cls), tree / cls)
    (tree / "cat" / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    common = ["+tiny=image_dino", f"task.data={tmp_path / 'imgs'}", "optimization.max_update=40", "dataset.batch_size=16"]
    rc, log = hydra_train(PRETRAIN_CONFIGS, "image_dino_dino", tmp_path / "run", *common)
    clean(rc, log, f"{tree / 'cat' / 'zz_broken.png'}: cannot decode image")
    rc, log = hydra_train(PRETRAIN_CONFIGS, "image_dino_dino", tmp_path / "skip", *common, "task.skip_bad_images=true",
                          "optimization.max_update=2")
    assert rc == 0, log[-3000:]
    assert "skipped 1 undecodable images" in log and "zz_broken.png" in log


def test_task_data_without_a_dictionary(tmp_path):
    (tmp_path / "empty").mkdir()
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v1", tmp_path / "run", "+tiny=text_v1", f"task.data={tmp_path / 'empty'}")
    clean(rc, log, f"task.data={tmp_path / 'empty'}: no dict.txt in {tmp_path / 'empty'}",
          "expected the output folder of scripts/prepare_text.py")


def test_unknown_config_key_is_hydras_clean_error(tmp_path):
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v1", tmp_path / "run", "+tiny=text_v1", "task.data=/x",
                          "model.no_such_knob=3")
    clean(rc, log, "Could not override 'model.no_such_knob'", "Key 'no_such_knob' is not in struct")


@pytest.fixture(scope="module")
def sst2_other_dict(full_bpe_dict, tmp_path_factory):
    """SST-2 binarized with a 50,257-symbol dictionary (not the tiny checkpoint's): 50,262 with the
    specials and sentence_prediction's <mask>."""
    out = tmp_path_factory.mktemp("other") / "sst_2"
    rc, log = run_script("prepare_glue.py", "--workers", "1")("--task", "sst_2", "--input", require_data("glue", "SST-2"),
                                                               "--dict", full_bpe_dict, "--out", out, "--max-train", "100")
    assert rc == 0, log
    return out


def test_a_dictionary_that_does_not_fit_the_checkpoint(tiny_pretrained, sst2_other_dict, tmp_path):
    ckpt, _ = tiny_pretrained
    args = ("sst_2", tmp_path / "run", "+tiny=glue", f"task.data={sst2_other_dict}", f"checkpoint.restore_file={ckpt}")
    rc, log = hydra_train(FINETUNE_CONFIGS, *args)
    clean(rc, log, f"{ckpt} does not fit the model built here: encoder.sentence_encoder.embed_tokens.weight",
          "this task's dictionary has 50262 symbols: binarize the data with the checkpoint's dict.txt")
    rc, log = hydra_train(FINETUNE_CONFIGS, *args, env={"D2V_EXT_COMPAT_SKIP": "checkpoint_mismatch_explained"})
    assert rc != 0 and "please ensure that the architectures match" in log and "Traceback" in log
