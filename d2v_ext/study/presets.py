"""Scale presets of the study: the sizes and budgets every unit of one scale shares.

``tiny`` is the demo (2 CPU cores, ~25 min): the ``+tiny=`` recipes at a few hundred updates.
``small`` is a budget one GPU finishes in hours: base-size recipes, shortened schedules.
``paper`` is the papers' recipes unchanged (a cluster; see README, "The study").
A spec's ``budget:`` mapping overrides single values of its preset (tests use it to run in seconds).
"""

PRESETS = {
    "tiny": {
        "tiny_recipes": True,
        "text_pretrain_updates": 600,     # 600 x 2,048 tokens = 1.2M tokens (the corpus is ~2M)
        "text_save_every": 100,           # pretraining checkpoints (budget-curve points are multiples)
        "sst2_few_train": 500,            # SST-2 training sentences, few labels
        "sst2_many_train": 8000,          # ... and many labels
        "nli3_train": None,               # all of the bundled VitaminC pairs
        "glue_updates": 250,              # fine-tuning updates (32 sentences each; 1 epoch at most)
        "glue_lr": 0.001,
        "squad_updates": 300,
        "squad_train_examples": None,
        "vision_pretrain_updates": None,  # None: the tiny recipe's own budget
        "vision_finetune_updates": None,
    },
    "small": {
        "tiny_recipes": False,
        "text_pretrain_updates": 100000,
        "text_save_every": 10000,
        "sst2_few_train": 1000,
        "sst2_many_train": None,
        "nli3_train": None,
        "glue_updates": 20000,
        "glue_lr": 2e-5,
        "squad_updates": 20000,
        "squad_train_examples": None,
        "vision_pretrain_updates": 50000,
        "vision_finetune_updates": 20000,
    },
    "paper": {
        "tiny_recipes": False,
        "text_pretrain_updates": None,    # None everywhere: the recipe's own schedule
        "text_save_every": None,
        "sst2_few_train": 1000,
        "sst2_many_train": None,
        "nli3_train": None,
        "glue_updates": None,
        "glue_lr": None,
        "squad_updates": None,
        "squad_train_examples": None,
        "vision_pretrain_updates": None,
        "vision_finetune_updates": None,
    },
}
