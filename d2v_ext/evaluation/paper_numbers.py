"""Published numbers the reports stand beside (sources: ../shared/docs/PAPER_NUMBERS.md)."""

# data2vec paper (Baevski et al. 2022, arXiv 2202.03555), Table 4: GLUE dev, base models.
# MNLI is matched (mismatched under "mnli_mm"); MRPC/QQP mean(acc, F1); STS-B mean(Pearson, Spearman).
GLUE_TABLE4 = {
    "BERT": {"mnli": 84.0, "mnli_mm": 84.4, "qnli": 89.0, "rte": 61.0, "mrpc": 86.3, "qqp": 89.1,
             "sts_b": 89.5, "cola": 57.3, "sst_2": 93.0, "avg": 80.7},
    "RoBERTa baseline": {"mnli": 84.1, "mnli_mm": 83.9, "qnli": 90.4, "rte": 69.3, "mrpc": 89.0,
                         "qqp": 89.3, "sts_b": 88.9, "cola": 56.8, "sst_2": 92.3, "avg": 82.5},
    "data2vec": {"mnli": 83.2, "mnli_mm": 83.0, "qnli": 90.9, "rte": 67.0, "mrpc": 90.2, "qqp": 89.1,
                 "sts_b": 87.2, "cola": 62.2, "sst_2": 91.8, "avg": 82.7},
}
GLUE_DISPLAY = {"cola": "CoLA", "sst_2": "SST-2", "mrpc": "MRPC", "qqp": "QQP", "sts_b": "STS-B",
                "mnli": "MNLI-m", "mnli_mm": "MNLI-mm", "qnli": "QNLI", "rte": "RTE", "nli3": "3-way NLI"}

# SQuAD v1.1 dev (EM, F1): BERT paper Table 2; RoBERTa-base from the DeBERTa paper, Table 3.
SQUAD_DEV = {"BERT-base": (80.8, 88.5), "RoBERTa-base": (84.6, 91.5)}

# XQuAD zero-shot after SQuAD v1.1 training, F1 (google-deepmind/xquad README). No data2vec number
# exists: data2vec text is English-only (GPT-2 BPE).
XQUAD_F1 = {
    "mBERT": {"en": 83.5, "ar": 61.5, "de": 70.6, "el": 62.6, "es": 75.5, "hi": 59.2, "ru": 71.3,
              "th": 42.7, "tr": 55.4, "vi": 69.5, "zh": 58.0},
    "XLM-R Large": {"en": 86.5, "ar": 68.6, "de": 80.4, "el": 79.8, "es": 82.0, "hi": 76.7, "ru": 80.1,
                    "th": 74.2, "tr": 75.9, "vi": 79.1, "zh": 59.3},
}

# ImageNet-1K top-1 after fine-tuning: data2vec paper Table 1 (ViT-B, ViT-L; None: not reported).
IMAGENET_TOP1 = {
    "data2vec": {"ViT-B": 84.2, "ViT-L": 86.6}, "MAE": {"ViT-B": 83.6, "ViT-L": 85.9},
    "BEiT": {"ViT-B": 83.2, "ViT-L": 85.2}, "MoCo v3": {"ViT-B": 83.2, "ViT-L": 84.1},
    "DINO": {"ViT-B": 82.8, "ViT-L": None}, "iBOT": {"ViT-B": 83.8, "ViT-L": None},
    "MaskFeat": {"ViT-B": 84.0, "ViT-L": 85.7}, "data2vec 2.0": {"ViT-B": None, "ViT-L": 86.8},
}

# COCO captioning, Karpathy test split, cross-entropy training (../shared/docs/PAPER_NUMBERS.md;
# X-modaler README, region-feature models): BLEU-4, METEOR, CIDEr-D, SPICE (x100).
COCO_CAPTIONS = {"Up-Down": {"BLEU-4": 36.0, "METEOR": 27.6, "CIDEr-D": 113.1, "SPICE": 20.7},
                 "Transformer": {"BLEU-4": 35.8, "METEOR": 28.2, "CIDEr-D": 116.6, "SPICE": 21.3},
                 "M2": {"BLEU-4": 35.6, "METEOR": 28.1, "CIDEr-D": 116.0, "SPICE": 21.2}}

# DINO (Caron et al. 2021; facebookresearch/dino README): ImageNet top-1 of frozen features, (k-NN, linear).
DINO_FROZEN = {"ViT-S/16": (74.5, 77.0), "ViT-B/16": (76.1, 78.2)}
