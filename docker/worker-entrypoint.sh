#!/usr/bin/env bash
# One Celery worker process per visible GPU, each pinned to its GPU with
# CUDA_VISIBLE_DEVICES (TensorFlow would otherwise spread one process over all
# of them); one CPU worker when there is no GPU. Every process consumes the
# same queue, so runs are spread over GPUs and over scaled-out containers.
#
# Environment: REGLAB_* settings (database, Redis, queue), plus
#   REGLAB_WORKER_CONCURRENCY  runs trained side by side on each GPU (default 1)
#   REGLAB_GPUS                GPU indices to use, e.g. "0,2" (default: all that nvidia-smi lists)
set -euo pipefail

list_gpus() {
    if [[ -n "${REGLAB_GPUS:-}" ]]; then
        tr ',' '\n' <<<"$REGLAB_GPUS"
    elif command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null || true
    fi
}

mapfile -t gpus < <(list_gpus | tr -d ' ' | grep -E '^[0-9]+$' || true)

if [[ ${#gpus[@]} -eq 0 ]]; then
    echo "reglab-worker: no GPU visible, starting one CPU worker"
    export CUDA_VISIBLE_DEVICES=""
    exec reglab worker --hostname "cpu@%h" "$@"
fi

echo "reglab-worker: ${#gpus[@]} GPU(s): ${gpus[*]}; one worker process each"
pids=()
for gpu in "${gpus[@]}"; do
    CUDA_VISIBLE_DEVICES="$gpu" reglab worker --hostname "gpu${gpu}@%h" "$@" &
    pids+=("$!")
done

# `docker stop` sends TERM to this script: pass it on so each worker does a warm
# shutdown, then wait for all of them.
forward() {
    trap - TERM INT
    kill -TERM "${pids[@]}" 2>/dev/null || true
}
trap forward TERM INT

status=0
# If one worker dies the container stops, so the orchestrator restarts it whole.
wait -n "${pids[@]}" || status=$?
forward
wait "${pids[@]}" 2>/dev/null || true
exit "$status"
