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
