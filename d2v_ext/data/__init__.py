"""d2v_ext data: text/GLUE/SQuAD readers and binarizers, QA windows, image folders, multi-crop datasets."""
