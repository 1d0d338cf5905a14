"""The study's numbers -> one table per task (mean ± std over seeds, the floor, the published rows)
and the plain-words reading of them. :func:`aggregate` is the single source of the tables, the
figures (figures.py) and report.json."""
import statistics

from ..evaluation import paper_numbers as P

TASK_TITLE = {"sst2_few": "SST-2, few labels (GLUE dev accuracy)", "sst2_many": "SST-2, many labels (GLUE dev accuracy)",
              "nli3": "3-way NLI, VitaminC (dev accuracy)", "squad_xquad": "SQuAD v1.1 -> XQuAD zero-shot (F1, 6-language average)",
              "cifar_finetune": "CIFAR-10 fine-tuning (val top-1)", "cifar_knn": "CIFAR-10 k-NN, frozen, mean pool (val top-1)",
              "cifar_probe": "CIFAR-10 linear probe, frozen, mean pool (val top-1)"}
METHOD_LABEL = {"data2vec": "data2vec (v1)", "data2vec2": "data2vec 2.0", "mlm": "RoBERTa-style MLM", "random": "random init",
                "mae": "MAE", "dino": "DINO", "supervised": "supervised ViT", "untrained": "untrained (frozen floor)"}
CONTROL = {"text": "random", "vision": "untrained"}
XQUAD6 = ("en", "de", "es", "ru", "zh", "ar")


def published(task):
    """[(label, value)]: the papers' corresponding rows (full-scale models on the full datasets)."""
    if task.startswith("sst2"):
        return [(f"{k} (base, GLUE SST-2 dev)", v["sst_2"]) for k, v in P.GLUE_TABLE4.items()]
    if task == "nli3":
        return [(f"{k} (base, MNLI-m dev: a different 3-way NLI set)", v["mnli"]) for k, v in P.GLUE_TABLE4.items()]
    if task == "squad_xquad":
        return [(f"{k} (XQuAD, same 6 languages)", statistics.mean(v[l] for l in XQUAD6)) for k, v in P.XQUAD_F1.items()]
    if task == "cifar_finetune":
        return [(f"{k} (ViT-B, ImageNet-1K fine-tuning)", v["ViT-B"]) for k, v in P.IMAGENET_TOP1.items()
                if k in ("data2vec", "MAE", "DINO") and v["ViT-B"]]
    i = 0 if task == "cifar_knn" else 1
    return [(f"DINO {k} (ImageNet-1K, {'k-NN' if i == 0 else 'linear'})", v[i]) for k, v in P.DINO_FROZEN.items()]


def aggregate(results):
    """{task: {modality, rows: {method: {mean, std, n, seeds, values}}, floor, published}}, the
    pretraining loss curves and the budget curve, from the units' results (study.run's output)."""
    tables, pretraining, budget = {}, {}, {}
    for modality, r in results.items():
        for task, by_method in r["tasks"].items():
            rows = {}
            for method, by_seed in by_method.items():
                seeds = sorted(by_seed, key=int)
                vals = [float(by_seed[s]["value"]) for s in seeds]
                rows[method] = {"mean": statistics.mean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                                "n": len(vals), "seeds": [int(s) for s in seeds], "values": vals}
            tables[task] = {"modality": modality, "rows": rows, "floor": list(r["floors"][task]), "published": published(task)}
        for method, curve in r.get("pretraining", {}).items():
            pretraining[f"{modality}/{method}"] = curve
        c = r.get("curve")
        if c:
            points = {}
            for method, by_u in c["points"].items():
                pts = []
                if c.get("zero"):
                    zero = [float(v["value"]) for v in c["zero"].values()]
                    pts.append([0, statistics.mean(zero), statistics.stdev(zero) if len(zero) > 1 else 0.0])
                for u in sorted(by_u, key=int):
                    vals = [float(v["value"]) for v in by_u[u].values()]
                    pts.append([int(u), statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0])
                points[method] = pts
            budget = {"task": c["task"], "points": points}
    return {"tables": tables, "pretraining": pretraining, "budget": budget}


def _cell(row):
    return f"{row['mean']:.1f} ± {row['std']:.1f}" if row["n"] > 1 else f"{row['mean']:.1f}"


def reading(task, t):
    """One sentence: does the best method beat the control by more than the seed noise?"""
    control = CONTROL[t["modality"]]
    rows = t["rows"]
    best = max(rows, key=lambda m: rows[m]["mean"])
    if control not in rows or best == control:
        if control not in rows:
            return f"Best: {METHOD_LABEL[best]}."
        c = rows[control]
        worse = [m for m, r in rows.items() if m != control and r["n"] > 1 and c["n"] > 1
                 and c["mean"] - r["mean"] > 2 * max(r["std"], c["std"])]
        return (f"Best: {METHOD_LABEL[best]}. No method beats {METHOD_LABEL[control]} here."
                + (f" Below it by more than twice the seed std: {', '.join(METHOD_LABEL[m] for m in worse)}."
                   if worse else ""))
    gap, noise = rows[best]["mean"] - rows[control]["mean"], max(rows[best]["std"], rows[control]["std"])
    verdict = ("larger than the seed noise" if gap > 2 * noise and rows[best]["n"] > 1 else
               "within twice the seed std: not evidence of a difference")
    return (f"Best: {METHOD_LABEL[best]}, {gap:+.1f} points over {METHOD_LABEL[control]} "
            f"(seed std up to {noise:.1f}; {verdict}).")


MEANING = {
    "tiny": "At the tiny preset every text model has about 0.65M parameters (a 64-d, 4-layer encoder and an "
            "8,000-token vocabulary) pretrained for 600 updates (about 1M tokens) and fine-tuned for 150; every "
            "vision model is a 64-d ViT pretrained on 3,000 32-pixel images for 60-100 updates. That is about "
            "10^-5 of the papers' compute. Differences within the seed noise say nothing about the methods; a "
            "method that does not beat random init here is not shown to be broken, and one that does is not shown "
            "to be better at scale. The published rows are the reference for that; the `small` and `paper` presets "
            "are the way to test it.\n",
    "small": "The small preset shortens the papers' schedules (d2v_ext/study/presets.py), so the numbers sit below "
             "the published rows by construction. Compare the methods with each other, within the seed noise.\n",
    "paper": "The paper preset runs the papers' recipes unchanged, but on the data the spec points at: the "
             "published rows are comparable only where that data is the papers' (ImageNet-1K, Wikipedia + "
             "BookCorpus, the GLUE and SQuAD splits).\n",
}


def markdown(agg, spec, minutes=None):
    out = [f"# Study: {spec.name} (preset {spec.preset})\n",
           f"Seeds {', '.join(map(str, spec.seeds))}; mean ± std over seeds. "
           + (f"This call took {minutes:.1f} min (reused results take none). " if minutes is not None else "")
           + "Published rows are full-scale models on the full datasets: they show where the methods stand "
           "at scale, not what this run should reach.\n"]
    for task, t in agg["tables"].items():
        out += [f"## {TASK_TITLE[task]}\n", "| method | score | seeds |", "|---|---|---|"]
        out += [f"| {METHOD_LABEL[m]} | {_cell(r)} | {r['n']} |" for m, r in t["rows"].items()]
        out.append(f"| *{t['floor'][0]}* | {t['floor'][1]:.1f} | |")
        out += [f"| *published: {label}* | {v:.1f} | |" for label, v in t["published"]]
        out.append("\n" + reading(task, t) + "\n")
        if task == "squad_xquad" and spec.budget.get("xquad_questions"):
            out.append(f"XQuAD is scored on its first {spec.budget['xquad_questions']} questions (of 1,190) in every "
                       "language, the same questions in each (preset value `xquad_questions`).\n")
    b = agg["budget"]
    if b:
        out += [f"## Pretraining budget curve ({TASK_TITLE[b['task']]})\n",
                "| method | " + " | ".join(f"{u[0]} updates" for u in next(iter(b["points"].values()))) + " |",
                "|---|" + "---|" * len(next(iter(b["points"].values())))]
        for m, pts in b["points"].items():
            out.append(f"| {METHOD_LABEL[m]} | " + " | ".join(f"{p[1]:.1f} ± {p[2]:.1f}" for p in pts) + " |")
        out.append("\n0 updates is random init. Where a curve rises above the 0-update point by more than the "
                   "seed std, pretraining starts to pay at that budget on this data.\n")
    out.append("## What these numbers can and cannot mean\n\n" + MEANING.get(spec.preset, MEANING["paper"]))
    return "\n".join(out)
