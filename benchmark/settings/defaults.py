"""Every default of the benchmark, in one place: stores, names, data split, targets, search."""

# SQLite, not Optuna's journal file: only RDB storages have heartbeats in Optuna 5, and the
# heartbeat is what turns a killed worker's trial into a failed-and-retried one.
DEFAULT_STORAGE = "sqlite:///optuna.db"  # Optuna study storage, in the working directory
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow store, in the working directory
DEFAULT_EXPERIMENT = "cnn-benchmark"  # MLflow experiment name
EXPERIMENT_NAME_MAX = 500  # characters: MLflow's MAX_EXPERIMENT_NAME_LENGTH
# The tracking stores MLflow's client builds, by URI scheme (a database's "+driver" apart; no
# scheme at all is a local folder); packages may register more (entry points, group below).
TRACKING_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "file", "databricks")
TRACKING_STORE_PLUGINS = "mlflow.tracking_store"
REGISTERED_MODEL_PREFIX = "cnn-benchmark-"  # + the dataset: the registered model it joins
REGISTERED_MODEL = "cnn-benchmark-mnist"  # the MLflow registered model MNIST's champion joins
CHAMPION_ALIAS = "champion"  # the alias of the registered model version `predict` loads
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}"

SPLIT_SEED = 0  # the validation split is the same for every run, whatever --seed says
VALIDATION_FRACTION = 0.1  # of the 60,000 training images, held out for validation
MNIST_TRAIN_IMAGES = 60_000  # MNIST's training split, before validation is carved from it
MNIST_CLASSES = 10  # the digits 0..9
# --subset's range, known before any data loads: one image per class up to what validation
# leaves of the training split (54,000).
SUBSET_MIN = MNIST_CLASSES
SUBSET_MAX = round(MNIST_TRAIN_IMAGES * (1 - VALIDATION_FRACTION))
# NumPy's and Optuna's random generators take seeds from 0 to 2^32 - 1.
SEED_MAX = 2**32 - 1
SEEDS_MAX = 10_000  # --seeds K: each seed is a full training of every architecture
WHOLE_MAX = 2**63 - 1  # the largest whole number TensorFlow and NumPy hold (int64)
HEARTBEAT_MAX = 86_400  # seconds, a day; far beyond it Optuna's heartbeat timers overflow
MAX_RETRIES = 1  # times `run` queues a cell that raised again before recording it failed
MAX_FAILURES = 3  # consecutive trials failing with the same error before tune stops
TARGET_ACCURACY = 0.99  # validation accuracy whose first epoch time_to_target reports
ENSEMBLE_K = 5  # members of the --ensemble row
# --jobs auto trains two at a time on 2+ cores once the trainings read at least this many
# images (epochs x training images, summed): below it, the workers' start-up (about 13 s on
# the 2-core machine) costs more than the second core gives back.
AUTO_JOBS_IMAGES = 1_000_000
TRIALS = 20  # finished (complete or pruned) trials a study should reach
HEARTBEAT_SECONDS = 10  # a running trial's liveness is written this often
SAMPLERS = ("tpe", "random")
# What `tune --objective` may optimise, each with its direction: accuracy is a trial's best
# validation accuracy; latency the median milliseconds to classify one image (batch size 1);
# flops those of one inference (2 x multiply-accumulates); params the trainable weights.
OBJECTIVES = {
    "accuracy": "maximize",
    "latency": "minimize",
    "flops": "minimize",
    "params": "minimize",
}
# auto: bfloat16 where the hardware computes it natively (Keras mixed_bfloat16), float16 on a GPU
# of compute capability 7.x (mixed_float16), else float32.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
PRUNERS = ("median", "hyperband", "none")
RANKINGS = ("test_accuracy", "time_to_target")  # what leaderboard --rank-by sorts rows by
# Datasets known by name (benchmark.data.sources registers one module each; a test checks the
# two agree); anything else given to --dataset is a folder of images or an .npz file.
DATASETS = ("mnist", "digits", "fashion_mnist", "cifar10", "cifar100")
DEFAULT_DATASET = "mnist"
COLORS = ("grayscale", "rgb")
