"""Vocabulary rows between a fairseq dict.txt and a transformers (RoBERTa-style) tokenizer.

fairseq's GPT-2 dictionaries list ``<s> <pad> </s> <unk>``, then GPT-2 BPE ids as strings
(``"13" "262" ...``, in the order of the dict.txt), then ``<mask>`` (added by masked_lm); padding
symbols (``madeupword0000``) can follow. A transformers tokenizer maps BPE *token strings* to ids
(``vocab.json``). GPT-2's ``encoder.json`` links the two: BPE id -> token string. The embedding row of
fairseq index i is the transformers row of ``hf_vocab[token_string(symbol_i)]``.
"""
import json
import os

from ..errors import DataError, MissingInputError

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def read_json(path, what):
    if not path or not os.path.isfile(path):
        raise MissingInputError(f"{what} {path}: not found")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid json (line {e.lineno}, column {e.colno}: {e.msg}); expected {what}") from None


def gpt2_token_strings(encoder_json):
    """{GPT-2 BPE id: token string} from GPT-2's encoder.json (token string -> id)."""
    return {i: tok for tok, i in read_json(encoder_json, "GPT-2 encoder.json").items()}


def symbol_token(symbol, id_to_token):
    """The BPE token string a fairseq symbol stands for (specials as themselves); None if unknown."""
    if symbol in SPECIALS or symbol.startswith("madeupword"):
        return symbol
    if symbol.isdigit():
        return id_to_token.get(int(symbol))
    return None


def fairseq_to_hf_rows(symbols, hf_vocab, id_to_token, hf_rows):
    """[transformers row of fairseq index i]; refuses symbols it cannot place, naming the first few."""
    rows, missing, used = [], [], set()
    for i, sym in enumerate(symbols):
        tok = symbol_token(sym, id_to_token)
        row = hf_vocab.get(tok) if tok is not None else None
        if row is None and sym.startswith("madeupword") and i < hf_rows and i not in used:
            row = i  # fairseq's padding symbols: transformers keeps them as unnamed rows at the same index
        if row is None or row >= hf_rows:
            missing.append(f"{i}:{sym!r}")
        rows.append(row)
        used.add(row)
    if missing:
        raise DataError(f"cannot map {len(missing)} fairseq dictionary symbols to the transformers vocabulary "
                        f"(e.g. {', '.join(missing[:5])}); expected GPT-2 BPE ids that encoder.json and the "
                        "tokenizer's vocab.json both know")
    if len(set(rows)) != len(rows):
        raise DataError("the dictionary maps two fairseq symbols to one transformers token; expected a one-to-one "
                        "vocabulary")
    return rows


def hf_vocab_for_dictionary(symbols, id_to_token):
    """vocab.json content (token string -> fairseq index) for a tokenizer that gives fairseq's ids."""
    vocab = {}
    for i, sym in enumerate(symbols):
        tok = symbol_token(sym, id_to_token)
        if tok is None:
            raise DataError(f"dictionary symbol {i}:{sym!r} is neither a GPT-2 BPE id nor a special token; "
                            "expected a GPT-2 dictionary (data2vec / RoBERTa)")
        vocab[tok] = i
    return vocab


def dictionary_lines(hf_vocab, id_to_token, n_rows):
    """dict.txt lines for a transformers vocabulary: fairseq index i = transformers row i (an identity
    map), with GPT-2 BPE ids as symbols; the 4 leading specials are fairseq's own, <mask> is added by
    the task, so neither is written."""
    token_to_id = {tok: i for i, tok in id_to_token.items()}
    by_row = {row: tok for tok, row in hf_vocab.items()}
    order = [by_row.get(r) for r in range(n_rows)]
    if order[:4] != ["<s>", "<pad>", "</s>", "<unk>"]:
        raise DataError(f"the transformers vocabulary starts {order[:4]}; expected <s> <pad> </s> <unk> (RoBERTa / "
                        "data2vec text order)")
    lines, tail = [], order[4:]
    if tail and tail[-1] == "<mask>":
        tail = tail[:-1]
    for r, tok in enumerate(tail, 4):
        if tok is None or (tok not in token_to_id and not tok.startswith("madeupword")):
            raise DataError(f"transformers row {r} ({tok!r}) is not a GPT-2 BPE token; cannot write a fairseq dict.txt")
        lines.append(f"{tok if tok.startswith('madeupword') else token_to_id[tok]} 0")
    return lines
