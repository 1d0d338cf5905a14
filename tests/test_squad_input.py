"""Bad SQuAD input: clear errors naming the file and question id, or counted skips under the flag.
Each case starts from a real XQuAD English paragraph and breaks one thing."""
import copy
import json

import pytest

from d2v_ext.data.squad_json import SquadFormatError, exclude_paragraphs, question_ids, read_squad_examples
from d2v_ext.errors import MissingInputError
from helpers import require_data


@pytest.fixture(scope="module")
def real():
    return json.loads(require_data("xquad", "xquad.en.json").read_text())


def write(tmp_path, real, edit, name="bad.json"):
    obj = {"version": "1.1", "data": [copy.deepcopy(real["data"][0])]}
    obj["data"][0]["paragraphs"] = obj["data"][0]["paragraphs"][:2]
    edit(obj["data"][0]["paragraphs"])
    path = tmp_path / name
    path.write_text(json.dumps(obj, ensure_ascii=False))
    return path


def first_qa(paras):
    return paras[0]["qas"][0]


def test_answer_not_at_answer_start(tmp_path, real):
    def edit(paras):
        first_qa(paras)["answers"][0]["answer_start"] += 40
    path = write(tmp_path, real, edit)
    qid = real["data"][0]["paragraphs"][0]["qas"][0]["id"]
    with pytest.raises(SquadFormatError, match=rf"bad.json: id {qid}: answers\[0\] text .* does not occur at "
                                               r"answer_start \d+ \(the context there reads"):
        read_squad_examples(path)
    examples, stats = read_squad_examples(path, skip_bad=True)
    assert stats.skipped == {"answer not at answer_start": 1} and qid not in {e.qid for e in examples}
    n_real = sum(len(p["qas"]) for p in real["data"][0]["paragraphs"][:2])
    assert len(examples) == n_real - 1


def test_off_by_one_offsets_of_the_official_dev_set_are_realigned():
    examples, stats = read_squad_examples(require_data("squad", "dev-v1.1.json"))
    assert stats.realigned == 15 and len(examples) == 10565
    ex = next(e for e in examples if e.qid == "56bf36b93aeaaa14008c9562")
    assert all(ex.context[s:s + len(t)] == t for t, s in ex.answers)


@pytest.mark.parametrize("field", ["question", "id", "answers"])
def test_missing_field(tmp_path, real, field):
    qid = real["data"][0]["paragraphs"][0]["qas"][1]["id"]

    def edit(paras):
        del paras[0]["qas"][1][field]
    path = write(tmp_path, real, edit)
    where = r"paragraphs\[0\]\.qas\[1\]" if field == "id" else f"id {qid}"
    with pytest.raises(SquadFormatError, match=rf"{where}: missing field '{field}'"):
        read_squad_examples(path)
    _, stats = read_squad_examples(path, skip_bad=True)
    assert stats.skipped == {f"missing {field}": 1}


def test_duplicate_ids(tmp_path, real):
    def edit(paras):
        paras[1]["qas"][0]["id"] = paras[0]["qas"][0]["id"]
    path = write(tmp_path, real, edit)
    qid = real["data"][0]["paragraphs"][0]["qas"][0]["id"]
    with pytest.raises(SquadFormatError, match=rf"id {qid}: duplicate question id \(first seen at "
                                               r"data\[0\]\.paragraphs\[0\]\.qas\[0\]\)"):
        read_squad_examples(path)
    assert read_squad_examples(path, skip_bad=True)[1].skipped == {"duplicate id": 1}


def test_empty_context(tmp_path, real):
    def edit(paras):
        paras[1]["context"] = "  "
    path = write(tmp_path, real, edit)
    n = len(real["data"][0]["paragraphs"][1]["qas"])
    with pytest.raises(SquadFormatError, match=rf"paragraphs\[1\]: empty context \({n} questions\)"):
        read_squad_examples(path)
    examples, stats = read_squad_examples(path, skip_bad=True)
    assert stats.skipped == {"in an empty context": n} and stats.paragraphs == 1


def test_not_squad_json(tmp_path):
    tsv = require_data("glue", "SST-2", "dev.tsv")
    with pytest.raises(SquadFormatError, match=r"dev.tsv: not valid json \(line 1, column 1"):
        read_squad_examples(tsv)
    other = tmp_path / "captions.json"
    other.write_text(require_data("images", "photos", "captions.json").read_text())
    with pytest.raises(SquadFormatError, match=r"captions.json: not SQuAD json: expected an object with a "
                                               r"'data' list"):
        read_squad_examples(other)
    truncated = tmp_path / "cut.json"
    truncated.write_text(require_data("xquad", "xquad.de.json").read_text(encoding="utf-8")[:5000])
    with pytest.raises(SquadFormatError, match=r"cut.json: not valid json \(line \d+, column \d+"):
        read_squad_examples(truncated)
    with pytest.raises(MissingInputError, match="SQuAD json .*: not found; expected a SQuAD v1.1-format json file"):
        read_squad_examples(tmp_path / "missing.json")


def test_exclude_xquad_paragraphs_from_squad_dev():
    examples, _ = read_squad_examples(require_data("squad", "dev-v1.1.json"))
    xquad = question_ids(require_data("xquad", "xquad.en.json"))
    kept, n_par = exclude_paragraphs(examples, xquad)
    assert n_par == 240                                   # XQuAD's 240 paragraphs
    assert len(examples) - len(kept) == 1189              # XQuAD has 1,190; one of its ids is not in this dev copy
    assert not xquad & {e.qid for e in kept}
    assert not {e.context for e in kept} & {e.context for e in examples if e.qid in xquad}
