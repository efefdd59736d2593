"""The trainer API: what a worker or a user's own training script calls while it trains a run."""
