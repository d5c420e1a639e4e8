import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.differing_executors],
    derandomize=True,
)
settings.register_profile("thorough", parent=settings.get_profile("default"), derandomize=False, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# The tests never read or write the user's cache (measured defaults, lookup tables): one fresh directory per run.
if "EFFNETS_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["EFFNETS_CACHE_DIR"] = tempfile.mkdtemp(prefix="effnets-test-cache-")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
