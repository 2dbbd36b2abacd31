"""``nonfinite: naslib``: NASLib's replacement of NaN/inf scores by -1e8 in the correlations
(opt-in; the default leaves them out and counts them). It changes the reports only."""
import math

import numpy as np
import pytest
import yaml

from experiments.cli import main
from experiments.config import ConfigError, parse_study
from experiments.report import correlations_frame, naslib_nonfinite_value, scores_frame
from search_spaces.base import get_space
from tests.test_runner import write_gt

RAW = {"name": "nf", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
       "data": {"source": "noise", "batch_size": 8, "size": 16}, "seeds": [0], "proxies": ["zen", "params"]}


def test_default_omits_nonfinite_and_naslib_replaces_them_by_minus_1e8(tmp_path, capsys):
    space = get_space("nb201", C=4, N=1)
    none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    archs = space.sample(10, 3) + [space.parse(none)]
    gt = tmp_path / "gt.csv"
    write_gt(gt, space, archs, np.random.default_rng(0))
    cfg = tmp_path / "nf.yaml"
    cfg.write_text(yaml.safe_dump({**RAW, "ground_truth": {"path": str(gt)},
                                   "archs": {"from": "ground_truth", "n": None}}))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    zen = correlations_frame(out).query("proxy == 'zen'").iloc[0]
    k = int(zen["n_nonfinite"])  # cells without a path from the input (the all-none one at least): -inf
    assert k >= 1 and zen["n"] == 11 - k  # left out
    assert main(["report", str(out), "--set", "nonfinite=naslib"]) == 0
    assert ",zen,0,11," in (out / "correlations.csv").read_text()  # the rebuilt report: replaced, entered
    zen = correlations_frame(out, ["nonfinite=naslib"]).query("proxy == 'zen'").iloc[0]
    assert zen["n"] == 11 and zen["n_nonfinite"] == k  # and still counted
    sf = scores_frame(out, ["nonfinite=naslib"])
    assert sf.query("proxy == 'zen' and status == 'nonfinite'")["value"].tolist() == [-1e8] * k


def test_naslib_values_and_the_config_key():
    assert naslib_nonfinite_value("snip") == naslib_nonfinite_value("synflow", {"log_transform": False}) == -1e8
    assert naslib_nonfinite_value("synflow") == -math.log(1e8)  # NASLib's -1e8 goes through synflow's log
    with pytest.raises(ConfigError, match="nonfinite must be one of \\['omit', 'naslib'\\]"):
        parse_study({**RAW, "nonfinite": "zero"})
    assert parse_study({**RAW, "nonfinite": "naslib"}).nonfinite == "naslib"
