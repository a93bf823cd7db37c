"""Test-time shifts: what averaging over one-pixel shifts of each image adds to trained runs.

Reads the finished MNIST runs of one architecture from the tracking store of the current
folder (or --tracking-uri), loads each run's model, and predicts the validation and test
images as they are and shifted by one pixel in each of the 8 directions (zeros shifted in).
It prints, per run, the accuracy of the plain prediction and of the softmax averaged over the
9 views, and the same for the ensemble of the --top runs ranked by validation accuracy (as
`leaderboard --ensemble-k` chooses them). Nothing is written to the store.

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
    args = parser.parse_args()
    if args.top < 1:
        parser.error("--top must be at least 1")

    from benchmark.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import mlflow
    import numpy as np

    from benchmark.data.splits import load_splits, to_model_input
    from benchmark.tracking.reading import load_run_model

    mlflow.set_tracking_uri(args.tracking_uri)
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"params.arch = '{args.arch}' and params.dataset = 'mnist' "
        "and attributes.status = 'FINISHED'",
    )
    if runs.empty:
        parser.exit(2, f"error: no finished MNIST run of {args.arch} in {args.tracking_uri}\n")
    splits = load_splits()
    data = {
        "val": (to_model_input(splits.x_val), splits.y_val),
        "test": (to_model_input(splits.x_test), splits.y_test),
    }
    runs = runs.sort_values("metrics.best_val_accuracy", ascending=False)
    views: dict[str, list[dict[str, np.ndarray]]] = {"val": [], "test": []}
    print("run, seed, epochs: val plain / shifted, test plain / shifted")
    for run in runs.itertuples():
        model = load_run_model(run.run_id)
        line = []
        for split, (x, y) in data.items():
            outputs = [model.predict(shifted(x, *s), batch_size=BATCH, verbose=0) for s in SHIFTS]
            pair = {"plain": outputs[SHIFTS.index((0, 0))], "shifted": np.mean(outputs, axis=0)}
            views[split].append(pair)
            line.append(" / ".join(f"{(p.argmax(1) == y).mean():.4f}" for p in pair.values()))
        seed = runs.loc[run.Index, "params.seed"]
        epochs = runs.loc[run.Index, "params.epochs"]
        print(f"{run.run_id[:8]}, seed {seed}, {epochs} epochs: {line[0]}, {line[1]}")
    members = min(args.top, len(runs))
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
