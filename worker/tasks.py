"""The worker's one task: ``reglab.train_run(run_id)``."""

from worker.app import app


@app.task(name="reglab.train_run", max_retries=0)
def train_run(run_id: int) -> str:
    """Train run ``run_id``, reading its spec from the database; returns the final state."""
    # Imported per call, not at module import: the prefork parent imports this
    # module, and TensorFlow must load only in the child that trains.
    from worker.runner import execute_run

    return execute_run(int(run_id))
