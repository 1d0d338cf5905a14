"""Binarize BPE-id text with fairseq's own preprocessing (dictionary + indexed dataset)."""
import os

from .dictionary import check_dictionary_file


def binarize_monolingual(destdir, trainpref, validpref=None, srcdict=None, workers=1, dict_flag="--srcdict",
                         testpref=None, nwords=None):
    """Run ``fairseq-preprocess --only-source`` in-process; writes dict.txt, train.{bin,idx}, ...

    ``srcdict`` reuses an existing dictionary (e.g. the one of a checkpoint being fine-tuned); errors
    about it name ``dict_flag``, the option that gave it. ``nwords`` caps a built dictionary.
    """
    from fairseq import options
    from fairseq_cli.preprocess import main as preprocess_main

    argv = ["--only-source", "--destdir", destdir, "--workers", str(workers), "--dataset-impl", "mmap"]
    for flag, pref in (("--trainpref", trainpref), ("--validpref", validpref), ("--testpref", testpref)):
        if pref:
            argv += [flag, pref]
    if srcdict:
        argv += ["--srcdict", check_dictionary_file(srcdict, dict_flag)]
    if nwords:
        argv += ["--nwordssrc", str(nwords)]  # the nwords most frequent (fairseq counts its 4 specials in)
    preprocess_main(options.get_preprocessing_parser().parse_args(argv))
    return os.path.join(destdir, "dict.txt")
