"""Test-time shifts: what averaging over one-pixel shifts of each image adds to trained runs.

Reads the MNIST runs of one architecture as the leaderboard does (the newest finished run of
each variant and seed, from the tracking store of the current folder or --tracking-uri, in
--experiment), loads each run's model, and predicts the validation and test images as they
are and shifted by one pixel in each of the 8 directions (zeros shifted in). It prints, per
run, the accuracy of the plain prediction and of the softmax averaged over the 9 views, and the
same for the ensemble of the --top runs by validation accuracy, chosen as `leaderboard
--ensemble-k` chooses them. Nothing is written to the store.

    uv run python benchmarks/test_time_shifts.py --arch augmented [--top 3]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
BATCH = 1000


def shifted(images, dy: int, dx: int):  # noqa: ANN001, ANN201 (numpy arrays)
    """`images` (N, H, W, C) moved dy rows down and dx columns right, zeros shifted in."""
    import numpy as np

    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return padded[:, 1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True)
    parser.add_argument("--top", type=int, default=3, help="ensemble members, by validation")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--experiment", default=None, help="default: the benchmark's own")
    args = parser.parse_args()
    if args.top < 1:
        parser.error("--top must be at least 1")

    from benchmark.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import numpy as np

    from benchmark import tracking
    from benchmark.data.splits import load_splits, to_model_input
    from benchmark.errors import BenchmarkError
    from benchmark.results import runs as run_table
    from benchmark.settings import DEFAULT_EXPERIMENT

    try:
        experiment_id = tracking.connect(
            args.tracking_uri, args.experiment or DEFAULT_EXPERIMENT, create=False
        )
    except BenchmarkError as error:
        parser.exit(2, f"error: {error}\n")
    rows = run_table.read_runs(experiment_id)
    rows = run_table.by_validation(rows[(rows["arch"] == args.arch) & (rows["dataset"] == "mnist")])
    if rows.empty:
        parser.exit(2, f"error: no finished MNIST run of {args.arch} in {args.tracking_uri}\n")
    splits = load_splits()
    data = {
        "val": (to_model_input(splits.x_val), splits.y_val),
        "test": (to_model_input(splits.x_test), splits.y_test),
    }
    views: dict[str, list[dict[str, np.ndarray]]] = {"val": [], "test": []}
    print("run, variant, seed: val plain / shifted, test plain / shifted")
    for run in rows.itertuples():
        model = tracking.load_run_model(run.run_id)
        line = []
        for split, (x, y) in data.items():
            outputs = [model.predict(shifted(x, *s), batch_size=BATCH, verbose=0) for s in SHIFTS]
            pair = {"plain": outputs[SHIFTS.index((0, 0))], "shifted": np.mean(outputs, axis=0)}
            views[split].append(pair)
            line.append(" / ".join(f"{(p.argmax(1) == y).mean():.4f}" for p in pair.values()))
        print(f"{run.run_id[:8]}, {run.variant}, seed {run.seed}: {line[0]}, {line[1]}")
    members = min(args.top, len(rows))
    for split, (_, y) in data.items():
        figures = []
        for kind in ("plain", "shifted"):
            mean = np.mean([pair[kind] for pair in views[split][:members]], axis=0)
            figures.append(f"{(mean.argmax(1) == y).mean():.4f}")
        print(
            f"top-{members} ensemble by validation, {split}: plain / shifted {' / '.join(figures)}"
        )


if __name__ == "__main__":
    main()
