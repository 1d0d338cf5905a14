"""Read SQuAD v1.1-format json (SQuAD, XQuAD, MLQA, any language) into checked QA examples.

Every problem is reported with the file and the question id (or the paragraph's position when
there is no id): answer text that does not occur at ``answer_start``, a missing field, a
duplicate id, an empty context, a file that is not SQuAD json. With ``skip_bad=True`` bad
questions (and empty paragraphs) are counted and skipped instead, and the counts come back.
"""
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple

from ..errors import DataError, MissingInputError


class SquadFormatError(DataError):
    """Bad SQuAD json: the message names the file and the question id or paragraph."""


@dataclass
class QAExample:
    qid: str
    question: str
    context: str
    answers: List[Tuple[str, int]]  # (text, answer_start character offset), in file order
    title: str = ""

    @property
    def answer_texts(self):
        return [a for a, _ in self.answers]


@dataclass
class ReadStats:
    questions: int = 0
    paragraphs: int = 0
    realigned: int = 0  # answers whose answer_start was off by 1-2 characters (see _realign)
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    def summary(self):
        skip = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return (f"{self.questions} questions in {self.paragraphs} paragraphs"
                + (f"; {self.realigned} answer offsets realigned by 1-2 characters" if self.realigned else "")
                + (f"; skipped {sum(self.skipped.values())}: {skip}" if skip else ""))


def load_squad_json(path):
    """The parsed json object; clear errors for a missing file, bad json or a non-SQuAD layout."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"SQuAD json {path}: {'is a folder' if path.is_dir() else 'not found'}; "
                                "expected a SQuAD v1.1-format json file")
    try:
        with open(path, encoding="utf-8-sig") as f:
            obj = json.load(f)
    except json.JSONDecodeError as e:
        raise SquadFormatError(f"{path}: not valid json (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except UnicodeDecodeError as e:
        raise SquadFormatError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        found = f"keys {sorted(obj)[:5]}" if isinstance(obj, dict) else type(obj).__name__
        raise SquadFormatError(f"{path}: not SQuAD json: expected an object with a 'data' list of "
                               f"articles (found {found})")
    return obj


def read_squad_examples(path, skip_bad=False, require_answers=True):
    """Return (examples, stats). ``require_answers=False`` accepts questions with no answers
    (test files without references); their answers list is empty."""
    path = Path(path)
    obj = load_squad_json(path)
    examples, seen, stats = [], {}, ReadStats()

    def bad(reason, where, detail):
        if not skip_bad:
            raise SquadFormatError(f"{path}: {where}: {detail} (use skip_bad_examples / "
                                   "--skip-bad-examples to count and skip such questions)")
        stats.skipped[reason] += 1

    for a_i, article in enumerate(obj["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise SquadFormatError(f"{path}: data[{a_i}]: missing field 'paragraphs' (a list)")
        title = str(article.get("title", ""))
        for p_i, para in enumerate(article["paragraphs"]):
            where_p = f"data[{a_i}].paragraphs[{p_i}]"
            if not isinstance(para, dict) or "context" not in para or "qas" not in para:
                raise SquadFormatError(f"{path}: {where_p}: missing field 'context' or 'qas'")
            context = para["context"]
            if not isinstance(context, str) or not context.strip():
                n = len(para["qas"]) if isinstance(para["qas"], list) else 0
                if not skip_bad:
                    raise SquadFormatError(f"{path}: {where_p}: empty context ({n} questions); "
                                           "use --skip-bad-examples to skip such paragraphs")
                stats.skipped["in an empty context"] += n
                continue
            stats.paragraphs += 1
            for q_i, qa in enumerate(para["qas"]):
                ex = _read_question(qa, context, title, f"{where_p}.qas[{q_i}]", bad, require_answers, stats)
                if ex is None:
                    continue
                if ex.qid in seen:
                    bad("duplicate id", f"id {ex.qid}", f"duplicate question id (first seen at {seen[ex.qid]})")
                    continue
                seen[ex.qid] = f"{where_p}.qas[{q_i}]"
                examples.append(ex)
    stats.questions = len(examples)
    return examples, stats


def _read_question(qa, context, title, where, bad, require_answers, stats):
    if not isinstance(qa, dict):
        return bad("malformed", where, "a question must be a json object")
    for key in ("id", "question"):
        if not isinstance(qa.get(key), str) or not qa[key].strip():
            name = f"id {qa['id']}" if isinstance(qa.get("id"), str) else where
            return bad(f"missing {key}", name, f"missing field {key!r} (a non-empty string)")
    where = f"id {qa['id']}"
    answers = qa.get("answers")
    if not isinstance(answers, list) or (require_answers and not answers):
        return bad("missing answers", where, "missing field 'answers' (a non-empty list)")
    out = []
    for k, ans in enumerate(answers):
        if not isinstance(ans, dict) or not isinstance(ans.get("text"), str) or \
                not isinstance(ans.get("answer_start"), int):
            return bad("missing answer field", where,
                       f"answers[{k}] needs 'text' (string) and 'answer_start' (int)")
        text, start = ans["text"], ans["answer_start"]
        if text.strip() and context[start:start + len(text)] != text:
            text, start = _realign(context, text, start, stats)
        if not text.strip() or context[start:start + len(text)] != text:
            found = context[start:start + len(text)] if 0 <= start < len(context) else "(out of range)"
            return bad("answer not at answer_start", where,
                       f"answers[{k}] text {text!r} does not occur at answer_start {start} "
                       f"(the context there reads {found!r})")
        out.append((text, start))
    return QAExample(qa["id"], qa["question"], context, out, title)


def _realign(context, text, start, stats):
    """The official SQuAD dev has 15 answers whose answer_start is off by one or two characters (most
    carry a padding space, e.g. ' 23–16'). The (stripped) text is accepted when it occurs within
    2 characters of answer_start; anything further away is an error."""
    for cand in dict.fromkeys((text, text.strip())):
        for off in (0, 1, -1, 2, -2):
            if start + off >= 0 and context[start + off:start + off + len(cand)] == cand:
                stats.realigned += 1
                return cand, start + off
    return text, start


def question_ids(path):
    """Every question id in a SQuAD-format file (for excluding XQuAD's paragraphs from training)."""
    obj = load_squad_json(path)
    return {qa.get("id") for art in obj["data"] for p in art.get("paragraphs", []) for qa in p.get("qas", [])}


def exclude_paragraphs(examples, ids):
    """Drop every example whose paragraph (same context) holds any question id in ``ids``."""
    hit = {ex.context for ex in examples if ex.qid in ids}
    return [ex for ex in examples if ex.context not in hit], len(hit)
