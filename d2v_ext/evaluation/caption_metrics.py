"""Caption metrics as the captioning literature reports them: pycocoevalcap (the coco-caption code):
PTB tokenizer, BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (pycocoevalcap's ``Cider`` is CIDEr-D: idf
from the references, Gaussian length penalty, clipped counts), SPICE; plus corpus BLEU with
sacrebleu. Scores are x100 as papers print them.

The PTB tokenizer and METEOR run Java (``java`` on PATH; Java 17 works). Without it they are
reported unavailable with the reason, and BLEU / ROUGE-L / CIDEr-D are computed on a simple
tokenisation (lowercase, punctuation removed), which the result says. SPICE needs Stanford CoreNLP
3.6.0, which pycocoevalcap downloads at first use: where it is absent (no network), SPICE is
reported unavailable with the reason, never as 0.

sacrebleu's corpus BLEU is computed on the same PTB-tokenised, lowercased text (``tokenize='none'``)
so that it is the same quantity as pycocoevalcap's BLEU-4: both take the reference length closest
to each hypothesis for the brevity penalty; pycocoevalcap adds 1e-9 / 1e-15 smoothing constants
and averages logs per n-gram order over the corpus exactly as sacrebleu does, so they agree to
about 1e-6 (tested). On raw text (sacrebleu's own 13a tokenizer, case-sensitive) they differ by the
tokenisation, which is why the raw-text number is reported separately.
"""
import os
import re
import shutil

SPICE_MODELS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")


def java_reason():
    return None if shutil.which("java") else "no java on PATH (the PTB tokenizer and METEOR run Java; install a JRE, e.g. openjdk-17-jre-headless)"


def spice_reason():
    from pycocoevalcap import spice

    lib = os.path.join(os.path.dirname(spice.__file__), "lib")
    missing = [m for m in SPICE_MODELS if not os.path.isfile(os.path.join(lib, m))]
    if java_reason():
        return java_reason()
    if missing:
        return (f"SPICE needs Stanford CoreNLP ({', '.join(missing)} in {lib}), which pycocoevalcap downloads from "
                "nlp.stanford.edu at first use; it is not there and cannot be fetched from this machine")
    return None


def simple_tokenize(caps):
    """{id: [captions]} lowercased, punctuation removed (the fallback when Java is missing)."""
    return {k: [" ".join(re.sub(r"[^\w\s]", " ", c.lower()).split()) for c in v] for k, v in caps.items()}


def score(references, hypotheses, spice=True):
    """references {image_id: [captions]}, hypotheses {image_id: caption} -> (metrics x100, unavailable {name: reason},
    the tokenised references and hypotheses)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    missing = set(hypotheses) ^ set(references)
    if missing:
        raise ValueError(f"hypotheses and references cover different images (e.g. {sorted(missing)[:5]})")
    unavailable = {}
    if java_reason():
        unavailable["PTB tokenizer"] = unavailable["METEOR"] = java_reason()
        gts, res = simple_tokenize(references), simple_tokenize({k: [v] for k, v in hypotheses.items()})
    else:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tok = PTBTokenizer()
        gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in references.items()})
        res = tok.tokenize({k: [{"caption": v}] for k, v in hypotheses.items()})
    out = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out.update({f"BLEU-{n + 1}": 100 * b for n, b in enumerate(bleu)})
    if "METEOR" not in unavailable:
        from pycocoevalcap.meteor.meteor import Meteor

        out["METEOR"] = 100 * Meteor().compute_score(gts, res)[0]
    out["ROUGE-L"] = 100 * float(Rouge().compute_score(gts, res)[0])
    out["CIDEr-D"] = 100 * float(Cider().compute_score(gts, res)[0])
    reason = spice_reason() if spice else "not requested"
    if reason:
        unavailable["SPICE"] = reason
    else:
        from pycocoevalcap.spice.spice import Spice

        out["SPICE"] = 100 * float(Spice().compute_score(gts, res)[0])
    return out, unavailable, gts, res


def sacrebleu_bleu(references, hypotheses, tokenize="none"):
    """Corpus BLEU (x100) of {image_id: caption} against {image_id: [captions]} (any number of references per image)."""
    from sacrebleu.metrics import BLEU

    ids = sorted(hypotheses)
    streams = max(len(references[i]) for i in ids)
    refs = [[references[i][k] if k < len(references[i]) else None for i in ids] for k in range(streams)]
    return BLEU(tokenize=tokenize).corpus_score([hypotheses[i] for i in ids], refs).score
