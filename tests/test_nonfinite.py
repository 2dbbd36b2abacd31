"""``nonfinite: naslib``: NASLib's replacement of NaN/inf scores by -1e8 in the correlations
(opt-in; the default leaves them out and counts them)."""
import math

import numpy as np
import pytest

from experiments.config import ConfigError, parse_study
from experiments.report import apply_nonfinite, correlations, naslib_nonfinite_value
from experiments.store import Row, Store

RAW = {"name": "nf", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
       "proxies": ["synflow", "snip", {"raw_synflow": {"proxy": "synflow", "log_transform": False}}]}


def stored(tmp_path, study):
    archs = [f"a{i}" for i in range(6)]
    truth = {a: float(i) for i, a in enumerate(archs)}
    values = [0.5, 1.5, math.inf, 3.5, math.nan, 5.5]  # increasing with the truth where finite
    rows = [Row(study.name, "nb201", "cifar10", "default", 0, a, p, v, 0.1,
                "ok" if math.isfinite(v) else "nonfinite") for p in ("synflow", "snip", "raw_synflow")
            for a, v in zip(archs, values)]
    store = Store(tmp_path / "r.sqlite")
    store.write(rows)
    return store, truth


def test_default_leaves_nonfinite_out_and_counts_them(tmp_path):
    study = parse_study(RAW)
    assert study.nonfinite == "omit"
    store, truth = stored(tmp_path, study)
    recs = {r["proxy"]: r for r in correlations(study, store, truth)}
    assert recs["snip"]["n"] == 4 and recs["snip"]["n_nonfinite"] == 2 and recs["snip"]["spearman"] == 1.0


def test_naslib_replaces_them_by_minus_1e8(tmp_path):
    study = parse_study({**RAW, "nonfinite": "naslib"})
    store, truth = stored(tmp_path, study)
    recs = {r["proxy"]: r for r in correlations(study, store, truth)}
    for p in ("synflow", "snip", "raw_synflow"):
        assert recs[p]["n"] == 6 and recs[p]["n_nonfinite"] == 2
    # the two replaced scores rank last: ranks (2, 3, 0.5, 4, 0.5, 5) against 0..5
    want = float(np.corrcoef([2, 3, 0.5, 4, 0.5, 5], range(6))[0, 1])
    assert recs["snip"]["spearman"] == pytest.approx(want)
    used = {r.arch: r.value for r in apply_nonfinite(store.rows(study=study.name), study) if r.proxy == "synflow"}
    assert used["a2"] == used["a4"] == -math.log(1e8)  # NASLib's -1e8 goes through synflow's log
    assert naslib_nonfinite_value("snip") == naslib_nonfinite_value("synflow", {"log_transform": False}) == -1e8


def test_config_key_is_checked_and_does_not_block_resuming():
    with pytest.raises(ConfigError, match="nonfinite must be one of \\['omit', 'naslib'\\]"):
        parse_study({**RAW, "nonfinite": "zero"})
    assert parse_study({**RAW, "nonfinite": "naslib"}).fingerprint() == parse_study(RAW).fingerprint()
