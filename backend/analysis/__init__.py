"""Study analysis: runs grouped by condition, summary statistics, tests against a baseline, per-epoch bands."""
