"""Scale presets of the study: the sizes and budgets every unit of one scale shares.

``tiny`` is the demo (2 CPU cores, ~25 min): the ``+tiny=`` recipes at a few hundred updates.
``small`` is a budget one GPU finishes in hours: base-size recipes, shortened schedules.
``paper`` is the papers' recipes unchanged (a cluster; see README, "The study").
A spec's ``budget:`` mapping overrides single values of its preset (tests use it to run in seconds).
"""

PRESETS = {
    "tiny": {  # measured on 2 idle cores: the demo (config/study/tiny.yaml) in ~25 min with --jobs 2
        "tiny_recipes": True,
        "text_vocab": 8000,               # the 8,000 most frequent BPE tokens of the corpus (of ~34.5k): same
                                          # SST-2 accuracy, MLM pretraining 1.9x faster (README, "Sizes")
        "text_dim": None,                 # encoder width / feed-forward / layers / heads (None: the recipe's,
        "text_ffn": None,                 # 64 / 128 / 4 / 2 for the tiny recipes)
        "text_layers": None,
        "text_heads": None,
        "text_pretrain_updates": 600,     # v1 and MLM: ~94 sentences (1,900 tokens) per update; 2.0: 16 x 124
        "text_save_every": 100,           # pretraining checkpoints (budget-curve points are multiples)
        "sst2_few_train": 500,            # SST-2 training sentences, few labels (~10 epochs of them)
        "sst2_many_train": 4800,          # ... and many labels (one epoch)
        "nli3_train": 4800,               # VitaminC pairs (one epoch; 9,900 bundled)
        "glue_updates": 150,              # fine-tuning updates of 32 sentences / pairs
        "glue_lr": 0.001,
        "squad_updates": 100,             # 32 windows each
        "squad_train_examples": None,
        "xquad_questions": 400,           # XQuAD scored on its first 400 of 1,190 questions in every language
                                          # (the same questions; a third of the evaluation time)
        "vision_pretrain_updates": None,  # None: the tiny recipe's own budget (60 updates; DINO 100)
        "vision_finetune_updates": 150,   # 32 images each (1.6 epochs of the 3,000)
    },
    "small": {
        "tiny_recipes": False,
        "text_vocab": None,
        "text_dim": None,
        "text_ffn": None,
        "text_layers": None,
        "text_heads": None,
        "text_pretrain_updates": 100000,
        "text_save_every": 10000,
        "sst2_few_train": 1000,
        "sst2_many_train": None,
        "nli3_train": None,
        "glue_updates": 20000,
        "glue_lr": 2e-5,
        "squad_updates": 20000,
        "squad_train_examples": None,
        "xquad_questions": None,
        "vision_pretrain_updates": 50000,
        "vision_finetune_updates": 20000,
    },
    "paper": {
        "tiny_recipes": False,
        "text_vocab": None,
        "text_dim": None,
        "text_ffn": None,
        "text_layers": None,
        "text_heads": None,
        "text_pretrain_updates": None,    # None everywhere: the recipe's own schedule
        "text_save_every": None,
        "sst2_few_train": 1000,
        "sst2_many_train": None,
        "nli3_train": None,
        "glue_updates": None,
        "glue_lr": None,
        "squad_updates": None,
        "squad_train_examples": None,
        "xquad_questions": None,
        "vision_pretrain_updates": None,
        "vision_finetune_updates": None,
    },
}
