"""Model data2vec_captioning: a data2vec 2.0 image encoder (a tiny checkpoint pretrained here on CIFAR-10)
and fairseq's TransformerDecoder, on batches of the COCO fixture (TEMPLATED CIFAR captions, real
photos): label-smoothed loss and gradients with the encoder frozen or trained at its own lr scale;
fairseq's SequenceGenerator with beam 1 equals greedy decoding."""
import json

import pytest
import torch

import d2v_ext  # noqa: F401
from coco_fixture import write_fixture
from helpers import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train, json_records, require_data, run_script
from test_coco_task import task_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("captioning")
    rc, log = hydra_train(PRETRAIN_CONFIGS, "image_v2", tmp / "pre", "+tiny=image_v2",
                          f"task.data={require_data('images', 'cifar10')}", "optimization.max_update=2")
    assert rc == 0, log[-3000:]
    root, karpathy, _, _ = write_fixture(tmp)
    rc, log = run_script("prepare_coco.py", "--workers", "1", "--quiet")("--karpathy", karpathy, "--images", root,
                                                                           "--out", tmp / "bin")
    assert rc == 0, log
    return tmp / "pre" / "ckpt" / "checkpoint_last.pt", tmp / "bin"


def build(setup, **over):
    from omegaconf import OmegaConf

    from d2v_ext.models.data2vec_captioning import Data2VecCaptioningConfig, Data2VecCaptioningModel

    ckpt, data = setup
    task = task_of(data)
    cfg = OmegaConf.structured(Data2VecCaptioningConfig)
    cfg.encoder_checkpoint, cfg.max_target_positions = str(ckpt), 32
    cfg.decoder_embed_dim, cfg.decoder_ffn_embed_dim, cfg.decoder_layers, cfg.decoder_attention_heads = 32, 64, 2, 2
    for k, v in over.items():
        cfg[k] = v
    torch.manual_seed(0)
    return task, Data2VecCaptioningModel.build_model(cfg, task)


def loss_of(task, model, batch):
    from fairseq.criterions.label_smoothed_cross_entropy import (
        LabelSmoothedCrossEntropyCriterion)

    crit = LabelSmoothedCrossEntropyCriterion(task, sentence_avg=False, label_smoothing=0.1)
    loss, sample_size, log = crit(model, batch)
    return loss, sample_size, log


@pytest.mark.parametrize("freeze", [True, False])
def test_loss_and_gradients(setup, freeze):
    task, model = build(setup, freeze_encoder=freeze)
    ds = task.load_dataset("train")
    batch = ds.collater([ds[i] for i in range(6)])
    model.train()
    loss, sample_size, log = loss_of(task, model, batch)
    assert torch.isfinite(loss) and sample_size == batch["ntokens"]
    loss.backward()
    enc = list(model.encoder.backbone.parameters())
    assert all(p.grad is not None for p in model.decoder.parameters() if p.requires_grad)
    assert model.encoder.proj.weight.grad is not None
    if freeze:
        assert all(not p.requires_grad and p.grad is None for p in enc)
        assert not model.encoder.backbone.training  # dropout off in the frozen encoder
    else:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc)
        assert all(p.optim_overrides == {"optimizer": {"lr_scale": 0.1}} for p in enc)


def greedy(model, source, eos, pad, max_len):
    """Argmax decoding, one token at a time, with the decoder's full forward (no incremental state)."""
    enc = model.encoder(source)
    tokens = torch.full((source.size(0), 1), eos, dtype=torch.long)
    done = torch.zeros(source.size(0), dtype=torch.bool)
    for step in range(max_len):
        logits = model.decoder(tokens, encoder_out=enc)[0][:, -1].float()
        logits[:, pad] = -float("inf")
        if step == 0:
            logits[:, eos] = -float("inf")  # SequenceGenerator's min_len=1
        if step == max_len - 1:
            nxt = torch.full_like(done, eos, dtype=torch.long)
        else:
            nxt = logits.argmax(-1)
        nxt[done] = pad
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        done |= nxt.eq(eos)
        if done.all():
            break
    return [t[1:][t[1:].ne(pad)].tolist() for t in tokens]


def test_beam_one_is_greedy_decoding(setup):
    from argparse import Namespace

    task, model = build(setup)
    ds = task.load_dataset("test")
    batch = ds.collater([ds[i] for i in range(0, len(ds), 3)])
    model.eval()
    with torch.no_grad():
        for p in model.decoder.parameters():  # an untrained decoder is near-uniform: make its argmax decisive
            p.add_(torch.randn_like(p) * 0.5)
        gen = task.build_generator([model], Namespace(beam=1, max_len_a=0, max_len_b=12, min_len=1, lenpen=1.0,
                                                      no_repeat_ngram_size=0, unkpen=0, sampling=False))
        hyps = [h[0]["tokens"].tolist() for h in gen.generate([model], batch)]
        want = greedy(model, batch["net_input"]["source"], task.dictionary.eos(), task.dictionary.pad(), 13)
    assert hyps == want and len({tuple(h) for h in hyps}) > 1


@pytest.fixture(scope="module")
def trained(setup, tmp_path_factory):
    """{updates: run folder} of the tiny recipe trained for 150 updates and for 1 (the untrained reference)."""
    ckpt, data = setup
    tmp = tmp_path_factory.mktemp("cap_runs")
    runs = {}
    for updates in (150, 1):
        rc, log = hydra_train(FINETUNE_CONFIGS, "coco_captioning", tmp / str(updates), "+tiny=coco_captioning",
                              f"task.data={data}", f"model.encoder_checkpoint={ckpt}", f"optimization.max_update={updates}")
        assert rc == 0, log[-3000:]
        runs[updates] = (tmp / str(updates), log)
    return runs


def test_recipe_trains_through_fairseq_hydra_train(trained):
    run, log = trained[150]
    assert "Data2VecCaptioningModel(" in log and "coco_captioning train:" in log
    train = json_records(log)
    assert len(train) >= 5 and train[-1]["loss"] < 0.7 * train[0]["loss"], [r["loss"] for r in train]
    valid = json_records(log, "valid")
    assert valid and valid[-1]["valid_loss"] < train[0]["loss"]  # held-out loss below the untrained start
    assert (run / "ckpt" / "checkpoint_last.pt").is_file()


def test_eval_captions_beats_untrained_and_the_constant_baseline(setup, trained, tmp_path):
    _, data = setup
    scores = {}
    for updates, (run, _) in trained.items():
        out = tmp_path / f"{updates}.json"
        rc, log = run_script("eval_captions.py", "--quiet")(run / "ckpt" / "checkpoint_last.pt", "--split", "test",
                                                            "--out", out, "--md", tmp_path / f"{updates}.md",
                                                            "--grid", tmp_path / f"{updates}.png")
        assert rc == 0, log[-3000:]
        scores[updates] = json.loads(out.read_text())
    m, untrained = scores[150]["metrics"], scores[1]["metrics"]
    base = scores[150]["baseline_most_frequent_caption"]["metrics"]
    print({k: (round(m[k], 1), round(untrained[k], 1), round(base[k], 1)) for k in m})
    assert m["CIDEr-D"] > 2 * untrained["CIDEr-D"] and m["BLEU-4"] > untrained["BLEU-4"] + 5
    assert m["CIDEr-D"] > base["CIDEr-D"] and m["BLEU-4"] > base["BLEU-4"]
    assert "SPICE" in scores[150]["unavailable"] and "SPICE" not in m  # unavailable here, never 0
    results = json.loads((tmp_path / "150.results.json").read_text())
    test_ids = {im["id"] for im in json.loads((data / "test.refs.json").read_text())["images"]}
    assert {r["image_id"] for r in results} == test_ids and all(r["caption"] for r in results)
    assert "published: Transformer (Karpathy test)" in (tmp_path / "150.md").read_text()
    assert (tmp_path / "150.png").stat().st_size > 10000


@pytest.mark.parametrize("recipe", ["vision_v1", "mae", "image_dino_dino", "imagenet_v2 (fine-tuned)"])
def test_every_vision_backbone_can_be_the_encoder(setup, tmp_path, recipe):
    from helpers import FINETUNE_CONFIGS

    ckpt, data = setup
    cifar = require_data("images", "cifar10")
    if recipe.endswith("(fine-tuned)"):  # a fine-tuned classifier of the data2vec 2.0 checkpoint
        rc, log = hydra_train(FINETUNE_CONFIGS, "imagenet_v2", tmp_path / "ft", "+tiny=imagenet_v2", f"task.data={cifar}",
                              f"model.model_path={ckpt}", "optimization.max_update=1")
        assert rc == 0, log[-3000:]
        encoder = tmp_path / "ft" / "ckpt" / "checkpoint_last.pt"
    else:
        tiny = {"image_dino_dino": "image_dino"}.get(recipe, recipe)
        rc, log = hydra_train(PRETRAIN_CONFIGS, recipe, tmp_path / "pre", f"+tiny={tiny}", f"task.data={cifar}",
                              "optimization.max_update=1")
        assert rc == 0, log[-3000:]
        encoder = tmp_path / "pre" / "ckpt" / "checkpoint_last.pt"
    task, model = build((encoder, data))
    ds = task.load_dataset("valid")
    batch = ds.collater([ds[i] for i in range(3)])
    enc = model.encoder(batch["net_input"]["source"])["encoder_out"][0]
    assert enc.dim() == 3 and enc.size(1) == 3 and enc.size(2) == 32 and enc.size(0) > 4  # (CLS + patches, B, C)
    loss, *_ = loss_of(task, model, batch)
    assert torch.isfinite(loss)
