"""A folder the study puts first on ``PYTHONPATH`` in its SLURM jobs (launchers.Slurm), for its
``sitecustomize.py``: see there."""
