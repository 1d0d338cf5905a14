"""End-to-end: each tiny pretraining recipe trains through fairseq-hydra-train with the plugin on
real bundled data, with the data2vec properties read from its json log, then resumes."""
import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from d2v_ext.data.masked_lm import unmasked_tokens
from helpers import PRETRAIN_CONFIGS, PROJECT_ROOT, hydra_train, json_records, require_data

pytestmark = pytest.mark.e2e

RECIPES = {  # paper recipe (run with +tiny=<same name>): (data kind, logs target_var itself)
    "text_v1": ("text", False),
    "text_v2": ("text", True),
    "vision_v1": ("images", True),
    "image_v2": ("images", True),
}


@pytest.fixture(scope="session")
def text_data(tmp_path_factory):
    """Real text: botchan.txt, the SQuAD dev contexts and SST-2 sentences, via prepare_text.py."""
    tmp = tmp_path_factory.mktemp("text")
    squad = json.loads(require_data("squad", "dev-v1.1.json").read_text())
    contexts = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    sst = [r.split("\t")[0].strip() for r in
           require_data("glue", "SST-2", "train.tsv").read_text().splitlines()[1:3001]]
    corpus = tmp / "corpus.txt"
    corpus.write_text(require_data("text", "botchan.txt").read_text(encoding="utf-8-sig")
                      + "\n\n" + "\n\n".join(contexts + sst) + "\n")
    out = tmp / "bin"
    p = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "prepare_text.py"), str(corpus),
                        "--out", str(out), "--workers", "2", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out


def recipe_cfg(name):
    return OmegaConf.merge(OmegaConf.load(PRETRAIN_CONFIGS / f"{name}.yaml"),
                           OmegaConf.load(PRETRAIN_CONFIGS / "tiny" / f"{name}.yaml"))


def annealed(cfg, k):
    """data2vec's linear EMA anneal (upstream get_annealed_rate) at update k."""
    m = cfg.model
    end_step = m.get("ema_anneal_end_step", cfg.optimization.max_update)
    if k >= end_step:
        return m.ema_end_decay
    return m.ema_end_decay - (m.ema_end_decay - m.ema_decay) * (1 - k / end_step)


def text_v1_target_std(ckpt, data):
    """data2vec v1 text does not log target_var: compute it from the restored teacher's targets
    (mean over channels of the std over masked tokens, as data2vec 2.0 logs it). The teacher encodes
    the unmasked sentence, as in training (masked_lm's target_tokens hold only the masked tokens)."""
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(ckpt)], arg_overrides={"data": str(data)})
    model = models[0].eval()
    task.load_dataset("valid")
    ds = task.dataset("valid")
    fits = [i for i in range(len(ds)) if ds.size(i) <= cfg.model.transformer.max_source_positions][:32]
    sample = ds.collater([ds[i] for i in fits])  # as training does: longer documents are skipped
    enc = model.encoder
    assert enc.ema is not None, "the checkpoint's EMA teacher was not restored"
    src, tgt = sample["net_input"]["src_tokens"], sample["net_input"]["target_tokens"]
    full = unmasked_tokens(src, tgt, task.source_dictionary.pad())
    assert full.ne(task.source_dictionary.pad()).sum() > 2 * tgt.ne(task.source_dictionary.pad()).sum()
    with torch.no_grad():
        layers = enc.ema.model(full, return_all_hiddens=True)["fc_results"]
        y = [F.layer_norm(t.float(), t.shape[-1:]) for t in layers[-cfg.model.average_top_k_layers:]]
        y = (sum(y) / len(y)).transpose(0, 1)  # (B, T, C)
    masked = src.eq(enc.mask_idx)
    y = y[masked]  # (N masked, C)
    assert y.shape[0] > 50
    return torch.sqrt(y.var(dim=0) + 1e-6).mean().item()


@pytest.mark.parametrize("name", list(RECIPES))
def test_tiny_recipe_trains_and_resumes(name, text_data, tmp_path):
    kind, logs_target_var = RECIPES[name]
    data = text_data if kind == "text" else require_data("images", "cifar10")
    cfg = recipe_cfg(name)
    max_update = cfg.optimization.max_update

    rc, log = hydra_train(PRETRAIN_CONFIGS, name, tmp_path / "run", f"+tiny={name}", f"task.data={data}")
    assert rc == 0, log[-3000:]
    recs = json_records(log)
    assert recs and recs[-1]["num_updates"] == max_update

    # finite loss that goes down over the run
    losses = [r["loss"] for r in recs]
    assert all(math.isfinite(l) for l in losses)
    assert sum(losses[-2:]) / 2 < 0.8 * sum(losses[:2]) / 2, losses

    # ema_decay (logged x1000, averaged over the log interval) follows the configured anneal
    n = cfg.common.log_interval
    for r in recs:
        u = int(r["num_updates"])
        ks = range(max(0, u - n), u)
        expected = sum(annealed(cfg, k) for k in ks) / len(ks)
        assert abs(r["ema_decay"] / 1000 - expected) < 3e-6, (u, r["ema_decay"], expected)

    # no collapse: the teacher's targets keep their variance
    ckpt = tmp_path / "run" / "ckpt" / "checkpoint_last.pt"
    assert ckpt.is_file()
    if logs_target_var:
        assert min(r["target_var"] for r in recs) > 0.1, [r["target_var"] for r in recs]
    else:
        assert text_v1_target_std(ckpt, data) > 0.1

    # a second run resumes from the checkpoint at the saved update count, not from zero
    rc, log2 = hydra_train(PRETRAIN_CONFIGS, name, tmp_path / "run", f"+tiny={name}", f"task.data={data}",
                           f"hydra.run.dir={tmp_path / 'resume'}", f"optimization.max_update={max_update + 2 * n}")
    assert rc == 0, log2[-3000:]
    assert "(epoch " in log2 and f"@ {max_update} updates)" in log2
    recs2 = json_records(log2)
    assert recs2[0]["num_updates"] == max_update + n and recs2[-1]["num_updates"] == max_update + 2 * n
