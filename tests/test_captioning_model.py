"""Model data2vec_captioning: a data2vec 2.0 image encoder (a tiny checkpoint pretrained here on CIFAR-10)
and fairseq's TransformerDecoder, on batches of the COCO fixture (TEMPLATED CIFAR captions, real
photos): label-smoothed loss and gradients with the encoder frozen or trained at its own lr scale;
fairseq's SequenceGenerator with beam 1 equals greedy decoding."""
import pytest
import torch

import d2v_ext  # noqa: F401
from coco_fixture import write_fixture
from helpers import PRETRAIN_CONFIGS, hydra_train, require_data, run_script
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
