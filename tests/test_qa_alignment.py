"""Answer alignment on real data: every answer of SQuAD dev and the bundled XQuAD files maps to a token
span and back to its characters, for GPT-2 byte-level BPE and a SentencePiece model; oracle F1 per
language is reported (English asserted >= 99)."""
import pytest

from d2v_ext.data.qa_features import build_features, featurize, windows
from d2v_ext.data.qa_tokenizers import build_qa_tokenizer
from d2v_ext.data.squad_json import read_squad_examples
from d2v_ext.errors import ConfigError
from d2v_ext.evaluation.qa_predict import evaluate_examples
from helpers import require_data

LANGS = ("en", "de", "es", "ru", "zh", "ar")


@pytest.fixture(scope="module")
def gpt2():
    from fairseq.data import Dictionary

    d = Dictionary()
    for i in range(50257):
        d.add_symbol(str(i))
    d.add_symbol("<mask>")
    return build_qa_tokenizer("gpt2", d)


@pytest.fixture(scope="module")
def spm_tok():
    import sentencepiece as spm
    from fairseq.data import Dictionary

    model = require_data("sentencepiece", "en_unigram_1k.model")
    sp = spm.SentencePieceProcessor(model_file=str(model))
    d = Dictionary()
    for i in range(sp.get_piece_size()):
        d.add_symbol(sp.id_to_piece(i))
    return build_qa_tokenizer("sentencepiece", d, sentencepiece_model=str(model))


def check_offsets(tokenized):
    """Spans lie in the context, never go backwards, and together cover every non-space character."""
    for te in tokenized[::7]:  # contexts repeat across questions
        ctx, spans = te.example.context, te.context_spans
        covered = set()
        prev = 0
        for s, e in spans:
            assert 0 <= s <= e <= len(ctx) and s >= prev - 1, (te.example.qid, s, e)
            prev = s
            covered.update(range(s, e))
        lost = [c for i, c in enumerate(ctx) if not c.isspace() and i not in covered]
        assert not lost, (te.example.qid, lost[:5])


def check_answers(tokenized):
    """Every reference answer's token span maps back to characters that contain the answer."""
    for te in tokenized:
        for text, start in te.example.answers:
            span = te.answer_token_span(start, start + len(text))
            assert span is not None, te.example.qid
            s, e = te.context_spans[span[0]][0], te.context_spans[span[1]][1]
            assert s <= start + (len(text) - len(text.lstrip())) and e >= start + len(text.rstrip()), \
                (te.example.qid, text, te.example.context[s:e])


def oracle(path, tok, max_answer_len=30):
    examples, _ = read_squad_examples(path)
    tokenized, features = featurize(examples, tok, 0, 2, 384, 128, 64)
    res, _ = evaluate_examples(tokenized, features, max_answer_len=max_answer_len)
    return tokenized, res


@pytest.mark.parametrize("lang", LANGS)
def test_gpt2_xquad_alignment_and_oracle(gpt2, lang):
    tokenized, res = oracle(require_data("xquad", f"xquad.{lang}.json"), gpt2)
    check_offsets(tokenized)
    check_answers(tokenized)
    print(f"GPT-2 BPE oracle on XQuAD {lang}: EM {res['oracle_exact_match']:.2f} F1 {res['oracle_f1']:.2f}")
    # measured: en 99.99, de 99.63, es 99.76, zh 94.86, ar 96.92, ru 94.54 (Cyrillic/Arabic answers
    # often exceed 30 byte-level tokens; Chinese byte tokens straddle characters)
    assert res["oracle_f1"] >= (99.0 if lang == "en" else 90.0)


def test_gpt2_squad_dev_alignment_and_oracle(gpt2):
    tokenized, res = oracle(require_data("squad", "dev-v1.1.json"), gpt2)
    assert len(tokenized) == 10565
    check_answers(tokenized)
    print(f"GPT-2 BPE oracle on SQuAD dev: EM {res['oracle_exact_match']:.2f} F1 {res['oracle_f1']:.2f}")
    assert res["oracle_f1"] >= 99.0 and res["oracle_exact_match"] >= 99.0


@pytest.mark.parametrize("lang", ("en", "zh"))
def test_sentencepiece_alignment_and_oracle(spm_tok, lang):
    tokenized, res = oracle(require_data("xquad", f"xquad.{lang}.json"), spm_tok, max_answer_len=1000)
    check_offsets(tokenized)
    check_answers(tokenized)
    print(f"SentencePiece (en 1k) oracle on XQuAD {lang}: F1 {res['oracle_f1']:.2f}")
    # an English 1k-piece model: unknown Chinese runs become one piece, hence the lower zh oracle
    assert res["oracle_f1"] >= (99.0 if lang == "en" else 50.0)


def test_windows_cover_long_contexts_and_label_the_answer(gpt2):
    examples, _ = read_squad_examples(require_data("squad", "dev-v1.1.json"))
    ex = max(examples[:3000], key=lambda e: len(e.context))
    te = featurize([ex], gpt2, 0, 2, 128, 32, 64)[0][0]
    feats = build_features(te, 0, 0, 2, 128, 32)
    assert len(feats) > 3 and all(len(f.tokens) <= 128 for f in feats)
    lo = [f.window[0] for f in feats]
    assert lo == list(range(0, 32 * len(feats), 32))            # doc_stride apart
    assert feats[-1].window[1] == len(te.context_ids)            # the last window reaches the end
    text, start = ex.answers[0]
    labelled = [f for f in feats if f.start > 0]
    assert labelled and all(f.end >= f.start for f in labelled)
    for f in labelled:                                           # the label points at the answer
        first = f.window[0] + f.start - f.context_offset
        last = f.window[0] + f.end - f.context_offset
        s, e = te.context_spans[first][0], te.context_spans[last][1]
        assert ex.context[s:e].strip() == text.strip()
    assert windows(10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    with pytest.raises(ConfigError, match="no room for context"):
        windows(10, 0, 3)
