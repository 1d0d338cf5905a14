"""Outputs shared by the frozen-feature probes (knn_eval.py, knn_eval_text.py, linear_probe.py):
the result as JSON (``--out``) and its Markdown row appended to ``--md``."""


def write_probe_outputs(args, result, row):
    import json

    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    if args.md:
        with open(args.md, "a") as f:
            f.write(row + "\n")
