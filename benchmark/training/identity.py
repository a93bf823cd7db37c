"""A training run's identity: the digest of everything that determines its outcome."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from benchmark.data.splits import Splits


def config_hash(arch: str, params: dict[str, Any], seed: int, splits: Splits, **extra: Any) -> str:
    """A digest of everything that determines a run's outcome, used to skip finished work."""
    payload = {
        "arch": arch,
        "params": params,
        "seed": seed,
        "data": splits.digest,
        **splits.sizes,
        **extra,
    }
    if splits.dataset != "mnist":  # MNIST hashes stay as they were: its finished runs count
        payload |= {"dataset": splits.dataset, "input_shape": list(splits.input_shape)}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
