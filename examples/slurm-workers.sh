#!/usr/bin/env bash
# Workers of one cnn-benchmark comparison as a Slurm array job: each array task runs one
# `worker` that takes cells of the grids in the shared Optuna storage until none waits.
#
# First queue the grid from any machine (it trains cells too, and prints the board at the end):
#   uv run python -m benchmark run --all --seeds 5 --storage "$BENCHMARK_STORAGE" \
#       --tracking-uri "$BENCHMARK_TRACKING_URI"
# then, from the project's checkout on the cluster (the same commit: workers refuse other code):
#   uv sync --frozen && mkdir -p logs
#   export BENCHMARK_STORAGE=postgresql://bench:PASSWORD@db-host/optuna
#   export BENCHMARK_TRACKING_URI=http://db-host:5000
#   sbatch examples/slurm-workers.sh
# Untested here (no Slurm on the development machine); checked with `bash -n` only.
#SBATCH --job-name=cnn-benchmark-workers
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=logs/worker-%A_%a.out
#SBATCH --export=ALL

set -euo pipefail

: "${BENCHMARK_STORAGE:?set BENCHMARK_STORAGE to the Optuna storage URL (postgresql://...)}"
: "${BENCHMARK_TRACKING_URI:?set BENCHMARK_TRACKING_URI to the MLflow tracking server URL}"

cd "${SLURM_SUBMIT_DIR:-.}"  # the checkout sbatch was called from: its uv.lock and its code

# TensorFlow sizes its thread pools from the cores it sees; give it the cores Slurm gave us.
export TF_NUM_INTRAOP_THREADS="${SLURM_CPUS_PER_TASK:-1}"
export TF_NUM_INTEROP_THREADS="${SLURM_CPUS_PER_TASK:-1}"

# The host recorded on each cell and run: node and task, so `status` tells the tasks apart.
# The environment comes from uv.lock: run `uv sync --frozen` once in the checkout before sbatch
# (not in every task: eight tasks syncing one .venv at once would race). The worker runs as the
# venv's python, not under `uv run`: at the time limit Slurm sends SIGTERM to every process of
# the job, and `uv run` would forward a second one. On the first, the worker stops before its
# next batch, ends its MLflow run FAILED and puts its cell back in the queue; a task killed
# harder (SIGKILL after Slurm's KillWait) leaves its cell to be queued again once its
# heartbeats stop.
exec .venv/bin/python -m benchmark worker \
    --storage "$BENCHMARK_STORAGE" \
    --tracking-uri "$BENCHMARK_TRACKING_URI" \
    --host "$SLURMD_NODENAME-$SLURM_ARRAY_TASK_ID" \
    --name "slurm-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID"
