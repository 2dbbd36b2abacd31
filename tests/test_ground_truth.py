"""Ground-truth CSV reading and joining, with a tiny letter space and the real SWAP file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from search_spaces.base import ArchParseError
from search_spaces.ground_truth import (
    EXPECTED_FORMAT,
    SWAP_DARTS_URL,
    GroundTruth,
    GroundTruthError,
    GroundTruthNotFoundError,
    join,
    read_csv,
)

from tests.conftest import DARTS_CSV  # ../shared/data beside the project


@dataclass(frozen=True)
class Letter:
    ch: str

    def __str__(self) -> str:
        return self.ch


class LetterSpace:
    """Architectures are the letters a..z; parse canonicalises case and spaces."""

    def parse(self, text: str) -> Letter:
        t = text.strip().lower()
        if len(t) != 1 or not "a" <= t <= "z":
            raise ArchParseError(f"not a letter a..z: {text!r}")
        return Letter(t)


SPACE = LetterSpace()


def write(tmp_path: Path, text: str, name: str = "gt.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_headerless_single_metric(tmp_path):
    p = write(tmp_path, "a,90.5\nB,80\n c ,70.25\n")
    gt = read_csv(p, SPACE)
    assert gt.metrics == ["val_accuracy"]
    assert len(gt) == 3 and gt.n_rows == 3 and gt.n_duplicates == 0
    assert gt.metric("val_accuracy") == {Letter("a"): 90.5, Letter("b"): 80.0, Letter("c"): 70.25}
    assert gt.values[Letter("b")] == {"val_accuracy": 80.0}
    assert gt.source == str(p)
    with pytest.raises(GroundTruthError, match=r"no metric 'test_acc'; its metrics are \['val_accuracy'\]"):
        gt.metric("test_acc")


def test_headerless_several_metrics_and_selection(tmp_path):
    p = write(tmp_path, "a,1,2,3\nb,4,5,6\n")
    gt = read_csv(p, SPACE)
    assert gt.metrics == ["metric_1", "metric_2", "metric_3"]
    assert gt.metric("metric_2") == {Letter("a"): 2.0, Letter("b"): 5.0}
    gt = read_csv(p, SPACE, metric_columns=[3, 1])
    assert gt.metrics == ["metric_1", "metric_2"]
    assert gt.values[Letter("b")] == {"metric_1": 6.0, "metric_2": 4.0}
    gt = read_csv(p, SPACE, metric_columns=[2])
    assert gt.metrics == ["val_accuracy"] and gt.metric("val_accuracy")[Letter("a")] == 2.0


def test_header_auto_and_by_name(tmp_path):
    p = write(tmp_path, "acc,arch,params\n91,a,3\n92,b,4\n")
    gt = read_csv(p, SPACE, arch_column="arch", metric_columns=["acc"])
    assert gt.metrics == ["acc"] and gt.metric("acc") == {Letter("a"): 91.0, Letter("b"): 92.0}
    gt = read_csv(p, SPACE, arch_column=1)  # auto: 'arch' does not parse -> header
    assert gt.metrics == ["acc", "params"] and gt.n_rows == 2
    with pytest.raises(GroundTruthError, match=r"no column named 'val'; the header is \['acc', 'arch', 'params'\]"):
        read_csv(p, SPACE, arch_column="arch", metric_columns=["val"])
    # forcing header=False makes the header a data row, which does not parse
    with pytest.raises(GroundTruthError, match=r"gt\.csv, row 1: cannot parse architecture 'arch'"):
        read_csv(p, SPACE, arch_column=1, header=False)
    # header=True on a header-less file swallows the first row
    q = write(tmp_path, "a,1\nb,2\nc,3\n", "plain.csv")
    gt = read_csv(q, SPACE, header=True)
    assert gt.metrics == ["1"] and len(gt) == 2
    with pytest.raises(GroundTruthError, match="has no header row; select columns by 0-based index"):
        read_csv(q, SPACE, header=False, metric_columns=["val_accuracy"])


def test_bad_first_row_is_not_taken_for_a_header(tmp_path):
    p = write(tmp_path, "zz,90\nb,80\n")
    with pytest.raises(GroundTruthError, match=r"row 1: cannot parse architecture 'zz': not a letter"):
        read_csv(p, SPACE)


def test_bad_row_names_file_row_and_reason(tmp_path):
    p = write(tmp_path, "arch,acc\na,1\n\nb,2\n7,3\n")  # blank line 3 counts as in an editor
    with pytest.raises(GroundTruthError) as ei:
        read_csv(p, SPACE)
    msg = str(ei.value)
    assert str(p) in msg and "row 5" in msg and "not a letter a..z: '7'" in msg

    p = write(tmp_path, "a,1\nb,n/a\n")
    with pytest.raises(GroundTruthError, match=r"gt\.csv, row 2: metric 'val_accuracy' \(column 1\) is 'n/a', not a finite number"):
        read_csv(p, SPACE)
    p = write(tmp_path, "a,1\nb,nan\n")
    with pytest.raises(GroundTruthError, match="row 2: .*'nan', not a finite number"):
        read_csv(p, SPACE)
    p = write(tmp_path, "a,1,2\nb,3\n")
    with pytest.raises(GroundTruthError, match=r"row 2: 2 column\(s\), but column 2 \(0-based\) is needed"):
        read_csv(p, SPACE)


def test_quoted_multiline_cell_keeps_editor_line_numbers(tmp_path):
    p = write(tmp_path, 'a,1\n"b\n",2\nc,x\n')
    with pytest.raises(GroundTruthError, match="row 4: metric"):
        read_csv(p, SPACE)


def test_duplicates(tmp_path):
    p = write(tmp_path, "a,90\nb,50\nA,80\na,70\n")
    gt = read_csv(p, SPACE)
    assert gt.metric("val_accuracy") == {Letter("a"): 80.0, Letter("b"): 50.0}
    assert gt.n_duplicates == 2 and gt.n_rows == 4 and len(gt) == 2
    gt = read_csv(p, SPACE, duplicates="first")
    assert gt.metric("val_accuracy") == {Letter("a"): 90.0, Letter("b"): 50.0}
    assert gt.n_duplicates == 2
    with pytest.raises(GroundTruthError, match=r"row 3: architecture 'A' already appeared on row 1"):
        read_csv(p, SPACE, duplicates="error")
    with pytest.raises(GroundTruthError, match="duplicates must be one of mean, first, error"):
        read_csv(p, SPACE, duplicates="last")


def test_missing_file(tmp_path):
    p = tmp_path / "acc.csv"
    with pytest.raises(GroundTruthNotFoundError) as ei:
        read_csv(p, SPACE)
    msg = str(ei.value)
    assert str(p) in msg and "no such file" in msg and EXPECTED_FORMAT in msg
    assert "one architecture column" in msg and "header row is optional" in msg
    assert "SWAP" not in msg
    assert isinstance(ei.value, FileNotFoundError) and isinstance(ei.value, GroundTruthError)
    for name in ("DARTS_archs_CIFAR10.csv", "swap_darts1000_cifar10.csv"):
        with pytest.raises(FileNotFoundError) as ei:
            read_csv(tmp_path / name, SPACE)
        assert SWAP_DARTS_URL in str(ei.value)
        assert SWAP_DARTS_URL == (
            "https://raw.githubusercontent.com/pym1024/SWAP/main/datasets/DARTS_archs_CIFAR10.csv")
    with pytest.raises(GroundTruthNotFoundError, match="not a file"):
        read_csv(tmp_path, SPACE)


def test_empty_and_header_only(tmp_path):
    with pytest.raises(GroundTruthError, match=r"gt\.csv is empty \(no rows\)"):
        read_csv(write(tmp_path, ""), SPACE)
    with pytest.raises(GroundTruthError, match="is empty"):
        read_csv(write(tmp_path, "\n  \n"), SPACE)
    with pytest.raises(GroundTruthError, match="has a header row .* but no data rows"):
        read_csv(write(tmp_path, "arch,acc\n"), SPACE)
    with pytest.raises(GroundTruthError, match="no metric columns"):
        read_csv(write(tmp_path, "a\nb\n"), SPACE)
    with pytest.raises(GroundTruthError, match="metric column 5 is out of range; the first row has 2 columns"):
        read_csv(write(tmp_path, "a,1\n"), SPACE, metric_columns=[5])


def test_join(tmp_path):
    gt = read_csv(write(tmp_path, "a,1\nb,2\nc,3\nd,4\n"), SPACE)
    archs = [Letter("d"), Letter("x"), Letter("b"), Letter("a")]
    hit, vals, k = join(gt, archs, "val_accuracy")
    assert hit == [Letter("d"), Letter("b"), Letter("a")] and k == 3
    assert vals.dtype == np.float64 and vals.tolist() == [4.0, 2.0, 1.0]

    with pytest.raises(GroundTruthError) as ei:
        join(gt, [Letter("x"), Letter("y")], "val_accuracy")
    msg = str(ei.value)
    assert msg.startswith(f"0 of 2 sampled architectures have ground truth in {gt.source} (it holds 4)")
    assert "check the space/task" in msg and "first sampled: x, first in file: a" in msg
    with pytest.raises(GroundTruthError) as ei:
        join(gt, [Letter("a"), Letter("b"), Letter("z")], "val_accuracy")
    msg = str(ei.value)
    assert msg.startswith("only 2 of 3 sampled architectures have ground truth in ")
    assert "(it holds 4) and at least 3 are needed for a rank correlation" in msg
    assert "first sampled without it: z, first in file: a" in msg
    with pytest.raises(GroundTruthError, match=r"0 of 0 sampled .*first sampled: \(none\)"):
        join(gt, [], "val_accuracy")
    with pytest.raises(GroundTruthError, match="0 of 1 sampled"):
        join(gt, ["a"], "val_accuracy")  # strings are not architecture values
    with pytest.raises(GroundTruthError, match="no metric"):
        join(gt, archs, "test_accuracy")


def test_groundtruth_is_a_plain_dataclass():
    gt = GroundTruth(metrics=["m"], values={1: {"m": 0.5}, 2: {"m": 0.25}}, source="mem")
    assert len(gt) == 2 and gt.metric("m") == {1: 0.5, 2: 0.25} and gt.n_duplicates == 0


@pytest.mark.skipif(not DARTS_CSV.is_file(),
                    reason=f"reference data {DARTS_CSV} is absent (../shared/data is not in a "
                           "user's clone)")
def test_real_swap_darts_file():
    darts = pytest.importorskip("search_spaces.darts")
    space = darts.DartsSpace()
    gt = read_csv(DARTS_CSV, space)
    assert gt.metrics == ["val_accuracy"]
    assert gt.n_rows == 1000 and len(gt) + gt.n_duplicates == 1000
    vals = np.array(list(gt.metric("val_accuracy").values()))
    assert np.all((vals > 0) & (vals < 100))
    first = space.parse(DARTS_CSV.read_text().split('"')[1])
    assert gt.metric("val_accuracy")[first] == 85.0  # row 1: ...,85.0
    archs = list(gt.values)[:10]
    hit, v, k = join(gt, archs, "val_accuracy")
    assert k == 10 and v[0] == 85.0
