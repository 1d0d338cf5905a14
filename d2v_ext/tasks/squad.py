"""Task ``squad``: extractive QA on SQuAD v1.1-format json (SQuAD, XQuAD, any language).

The json is read, checked (squad_json.py), tokenized with character offsets (qa_tokenizers.py) and
cut into question + context windows (qa_features.py) when a split is loaded. The dictionary is
the pretrained model's (fairseq dict.txt) plus ``<mask>``, as in data2vec's masked_lm task, so
the embedding matrix of the checkpoint fits.
"""
import logging
import os
from dataclasses import dataclass, field

from fairseq.data import Dictionary
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II

from ..data.qa_dataset import QAFeatureDataset
from ..data.qa_features import featurize
from ..data.qa_tokenizers import build_qa_tokenizer
from ..data.squad_json import exclude_paragraphs, question_ids, read_squad_examples

from ..errors import ConfigError, MissingInputError

logger = logging.getLogger(__name__)


@dataclass
class SquadConfig(FairseqDataclass):
    data: str = field(default="", metadata={"help": "folder of the json files and dict.txt (relative "
                                                    "train_file/valid_file/dict_file are resolved in it)"})
    train_file: str = field(default="train-v1.1.json", metadata={"help": "SQuAD-format training json"})
    valid_file: str = field(default="dev-v1.1.json", metadata={"help": "SQuAD-format json for validation loss"})
    dict_file: str = field(default="dict.txt", metadata={
        "help": "the pretrained model's fairseq dictionary (the dict.txt of its pretraining data)"})
    bpe: ChoiceEnum(["gpt2", "sentencepiece"]) = field(default="gpt2", metadata={
        "help": "gpt2: data2vec text's byte-level BPE; sentencepiece: a SentencePiece model"})
    gpt2_encoder_json: str = field(default="", metadata={"help": "GPT-2 encoder.json (default: bundled copy)"})
    gpt2_vocab_bpe: str = field(default="", metadata={"help": "GPT-2 vocab.bpe (default: bundled copy)"})
    sentencepiece_model: str = field(default="", metadata={"help": "SentencePiece .model when bpe=sentencepiece"})
    max_seq_len: int = field(default=384, metadata={
        "help": "tokens per window, question included (BERT/RoBERTa: 384); at most the model's positions"})
    doc_stride: int = field(default=128, metadata={
        "help": "context tokens between the starts of consecutive windows (BERT: 128)"})
    max_query_len: int = field(default=64, metadata={"help": "questions are cut to this many tokens (BERT: 64)"})
    exclude_paragraphs_of: str = field(default="", metadata={
        "help": "comma-separated SQuAD-format files: training paragraphs holding any of their question "
                "ids are dropped (zero-shot XQuAD: the XQuAD files)"})
    skip_bad_examples: bool = field(default=False, metadata={
        "help": "count and skip malformed questions instead of stopping at the first"})
    max_train_examples: int = field(default=0, metadata={"help": "use the first N training questions (0: all)"})
    seed: int = II("common.seed")


@register_task("squad", dataclass=SquadConfig)
class SquadTask(FairseqTask):
    def __init__(self, cfg, dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.tokenizer = None
        self.examples = {}  # split -> tokenized examples (for decoding and evaluation)

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        path = cls.resolve(cfg, cfg.dict_file)
        if not os.path.isfile(path):
            raise MissingInputError(f"task.dict_file not found: {path} (the dict.txt of the pretrained "
                                    "model's data, e.g. the output folder of scripts/prepare_text.py)")
        dictionary = Dictionary.load(path)
        dictionary.add_symbol("<mask>")
        logger.info(f"squad: dictionary {path}: {len(dictionary)} symbols")
        return cls(cfg, dictionary)

    @staticmethod
    def resolve(cfg, name):
        return name if os.path.isabs(name) or not cfg.data else os.path.join(cfg.data, name)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def max_positions(self):
        return self.cfg.max_seq_len

    def qa_tokenizer(self):
        if self.tokenizer is None:
            c = self.cfg
            self.tokenizer = build_qa_tokenizer(c.bpe, self.dictionary, c.gpt2_encoder_json or None,
                                                c.gpt2_vocab_bpe or None, c.sentencepiece_model or None)
        return self.tokenizer

    def featurize_file(self, path, exclude=(), limit=0):
        """(tokenized examples, features, read stats) for one SQuAD-format file."""
        examples, stats = read_squad_examples(path, skip_bad=self.cfg.skip_bad_examples)
        if exclude:
            ids = set().union(*(question_ids(p) for p in exclude))
            before = len(examples)
            examples, n_par = exclude_paragraphs(examples, ids)
            logger.info(f"squad: {path}: excluded {n_par} paragraphs ({before - len(examples)} questions) "
                        f"that hold question ids of {', '.join(exclude)}")
        if limit:
            examples = examples[:limit]
        logger.info(f"squad: {path}: {stats.summary()}")
        step = max(len(examples) // 10, 1)

        def progress(i, n):
            if i % step == 0 or i == n:
                logger.info(f"squad: tokenized {i}/{n} questions")

        d = self.dictionary
        tokenized, features = featurize(examples, self.qa_tokenizer(), d.bos(), d.eos(), self.cfg.max_seq_len,
                                        self.cfg.doc_stride, self.cfg.max_query_len, progress)
        return tokenized, features, stats

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        files = {"train": self.cfg.train_file, "valid": self.cfg.valid_file}
        if split not in files:
            raise ConfigError(f"squad task: unknown split {split!r}; splits are 'train' (task.train_file) "
                             "and 'valid' (task.valid_file)")
        path = self.resolve(self.cfg, files[split])
        train = split == "train"
        exclude = [p for p in self.cfg.exclude_paragraphs_of.split(",") if p] if train else []
        tokenized, features, _ = self.featurize_file(path, exclude, self.cfg.max_train_examples if train else 0)
        self.examples[split] = tokenized
        n_ans = sum(f.start > 0 for f in features)
        logger.info(f"squad: {split}: {len(tokenized)} questions -> {len(features)} windows "
                    f"({n_ans} hold the answer)")
        self.datasets[split] = QAFeatureDataset(features, self.dictionary.pad(), shuffle=train, seed=self.cfg.seed)
