from setuptools import find_packages, setup

setup(
    name="d2v_ext",
    version="0.1.0",
    description="fairseq plugin: upstream data2vec on today's stack, plus the paper's evaluations",
    packages=find_packages(include=["d2v_ext", "d2v_ext.*"]),
    python_requires=">=3.11",
    install_requires=[
        "fairseq-fixed==0.12.3.1",
        "torch==2.11.0",
        "omegaconf==2.3.0",
        "hydra-core==1.3.2",
        "timm==1.0.31",
        "sacrebleu",
        "sentencepiece",
        "scikit-learn",
        "scipy",
        "tensorboardX",
        "matplotlib",
        "tqdm",
        "hydra-submitit-launcher==1.2.0",  # scripts/study.py --launcher slurm (hydra/launcher=submitit_slurm)
        "pycocoevalcap",  # COCO caption metrics (eval_captions.py); METEOR and its PTB tokenizer run Java
    ],
    extras_require={
        # convert: scripts/convert_checkpoint.py (fairseq <-> Hugging Face); pinned to what the tests ran with
        "convert": ["transformers==5.24.0"],
        # torchmetrics: an independent SQuAD metric; transformers: the conversion tests' reference models
        "test": ["pytest", "pytest-xdist", "torchmetrics", "transformers==5.24.0"],
    },
)
