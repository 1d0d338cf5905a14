"""d2v_ext evaluation: GLUE and SQuAD metrics, QA decoding, k-NN, frozen features, reports, published numbers."""
