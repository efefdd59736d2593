"""Optuna search studies and pruning over RegLab's own runs (issue 10).

The API never imports TensorFlow; Optuna is a plain Python dependency of the
API process, which asks for trials and tells their results (coordinator.py).
"""
