"""The learning-rate finder: one short run that sweeps the rate exponentially (worker/training/lr_finder.py)."""
