"""Tokenizers that keep the exact character span of every token, for extractive QA.

``tokenize(text)`` returns (dictionary indices, [(char_start, char_end), ...]) with one span per
token, in characters of the original ``text`` (Python string indices): no assumption of spaces,
so Chinese, Thai, Arabic, Devanagari and Greek map back exactly. Spans exclude the whitespace a
token carries (GPT-2's leading space, SentencePiece's ``▁``); a whitespace-only token gets an
empty span. Byte-level tokens that cover part of a multi-byte character are widened to the whole
character, so two neighbouring tokens can share a character.

- ``gpt2``: data2vec text's tokenizer: fairseq's GPT-2 byte-level BPE (regex pre-tokenisation,
  then BPE over bytes); dictionary symbols are the BPE ids as strings (fairseq's dict.txt).
- ``sentencepiece``: a SentencePiece model; dictionary symbols are the pieces.
"""
import numpy as np

from ..errors import ConfigError, MissingInputError


def _byte_to_char(text):
    """Array mapping each UTF-8 byte offset of ``text`` (plus the end) to its character index."""
    lengths = [len(c.encode("utf-8")) for c in text]
    b2c = np.repeat(np.arange(len(text)), lengths)
    return np.append(b2c, len(text))


def _strip_span(text, start, end):
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else (start, start)


class Gpt2OffsetTokenizer:
    def __init__(self, dictionary, encoder_json, vocab_bpe):
        from .bpe import load_gpt2_bpe

        self.dictionary = dictionary
        self.bpe = load_gpt2_bpe(encoder_json, vocab_bpe)

    def tokenize(self, text):
        enc, ids, spans = self.bpe, [], []
        for m in enc.re.finditer(enc.pat, text):
            piece = m.group(0)
            raw = piece.encode("utf-8")
            b2c = _byte_to_char(piece)
            pos = 0
            for tok in enc.bpe("".join(enc.byte_encoder[b] for b in raw)).split(" "):
                n = len(tok)  # one unicode symbol per byte
                s, e = m.start() + b2c[pos], m.start() + b2c[pos + n - 1] + 1
                ids.append(self.dictionary.index(str(enc.encoder[tok])))
                spans.append(_strip_span(text, int(s), int(e)))
                pos += n
        return ids, spans


class SentencePieceOffsetTokenizer:
    def __init__(self, dictionary, model_file):
        import os

        import sentencepiece as spm

        if not model_file or not os.path.isfile(model_file):
            raise MissingInputError(f"SentencePiece model not found: {model_file!r} (task.sentencepiece_model)")
        self.dictionary = dictionary
        self.sp = spm.SentencePieceProcessor(model_file=model_file)

    def tokenize(self, text):
        b2c = _byte_to_char(text)
        ids, spans = [], []
        for p in self.sp.encode(text, return_type="proto").pieces:
            # begin/end are byte offsets into the original (un-normalised) text
            s, e = int(b2c[p.begin]), int(b2c[max(p.end - 1, p.begin)]) + (1 if p.end > p.begin else 0)
            ids.append(self.dictionary.index(p.piece))
            spans.append(_strip_span(text, s, e))
        return ids, spans


def build_qa_tokenizer(kind, dictionary, encoder_json=None, vocab_bpe=None, sentencepiece_model=None):
    if kind == "gpt2":
        if not encoder_json or not vocab_bpe:
            from ..paths import default_gpt2_bpe_files

            encoder_json, vocab_bpe = default_gpt2_bpe_files()
        return Gpt2OffsetTokenizer(dictionary, encoder_json, vocab_bpe)
    if kind == "sentencepiece":
        return SentencePieceOffsetTokenizer(dictionary, sentencepiece_model)
    raise ConfigError(f"task.bpe={kind!r}: unknown QA tokenizer; expected 'gpt2' or 'sentencepiece'")
