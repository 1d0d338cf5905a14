"""The study in one command (``scripts/study.py``): methods x downstream tasks x seeds at a scale preset.

spec.py reads and checks the YAML spec; presets.py holds the scale presets; text.py and vision.py run
each modality's units (pretraining, fine-tuning, probes, evaluation); units.py makes every unit
resumable and prints progress; report.py aggregates the results into tables; figures.py draws them.
"""
