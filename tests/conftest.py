from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DARTS_CSV = SHARED / "swap_darts1000_cifar10.csv"
FMNIST = Path("/usr/share/datasets/fashion-mnist")

torch.set_num_threads(1)  # small networks: thread start-up costs more than it saves


@pytest.fixture
def darts_csv():
    if not DARTS_CSV.is_file():
        pytest.skip(f"needs ../shared/data (reference data beside the project), absent: {DARTS_CSV}")
    return DARTS_CSV
