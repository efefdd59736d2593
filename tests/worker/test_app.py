"""The Celery app: delivery guarantees, queue, and no TensorFlow in the parent process."""

import os
import subprocess
import sys
import time
import uuid


def test_app_configuration(reglab_env):
    from worker.app import create_application

    conf = create_application().conf
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == reglab_env["REGLAB_TRAIN_QUEUE"]
    assert conf.task_routes["reglab.train_run"]["queue"] == reglab_env["REGLAB_TRAIN_QUEUE"]
    assert conf.broker_url == conf.result_backend == reglab_env["REGLAB_REDIS_URL"]
    assert conf.task_soft_time_limit < conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]


def test_the_worker_lets_tensorflow_grow_gpu_memory_instead_of_taking_the_gpu():
    code = "import os, worker.app; print(os.environ['TF_FORCE_GPU_ALLOW_GROWTH'])"
    env = {k: v for k, v in os.environ.items() if k != "TF_FORCE_GPU_ALLOW_GROWTH"}
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert output.stdout.strip() == "true"


def test_importing_the_app_and_task_loads_no_tensorflow():
    code = (
        "import sys, worker.app, worker.tasks, worker.runner;"
        "assert 'reglab.train_run' in worker.app.app.tasks;"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_backend_never_imports_the_worker():
    code = (
        "import sys, backend.main, reglab.schedule_math;"
        "assert not [m for m in sys.modules if m == 'worker' or m.startswith('worker.')];"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _maps_tensorflow(pid: int) -> bool:
    import psutil

    return any("tensorflow" in region.path for region in psutil.Process(pid).memory_maps())


def test_each_pool_process_loads_tensorflow_before_its_first_task_and_the_parent_never(redis_url, tmp_path):
    from backend.cli.processes import Child
    from worker.launch import worker_argv

    queue = f"train-warmup-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "REGLAB_REDIS_URL": redis_url, "REGLAB_TRAIN_QUEUE": queue,
           "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    child = Child("worker", worker_argv(queue, 2, f"warmup-{uuid.uuid4().hex[:6]}@%h"), env, tmp_path / "worker.log")
    child.start()
    try:
        # Longer than Celery's default 4 s for a pool process to start: loading TensorFlow takes that.
        deadline = time.monotonic() + 240
        while child.log_tail(200).count("training code loaded") < 2:
            assert child.alive() and time.monotonic() < deadline, child.log_tail(60)
            time.sleep(0.5)
        log = child.log_tail(200)
        assert "Timed out waiting for UP message" not in log and "exited with" not in log, log
        parent, *pool = child.tree_pids()
        assert len(pool) == 2
        assert all(_maps_tensorflow(pid) for pid in pool)
        assert not _maps_tensorflow(parent)
    finally:
        child.stop()
