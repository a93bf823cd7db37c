"""`python -m benchmark`: the command line entry point."""

import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) hides the tool's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmark.cli import main  # noqa: E402

sys.exit(main())
