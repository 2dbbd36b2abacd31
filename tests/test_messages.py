"""Error paths a newcomer reaches: each ends in ``zcbench: error: ...`` (exit 2) naming what to fix."""
import pytest

from experiments.cli import main
from experiments.config import ConfigError, apply_overrides, load_study


def _err(capsys) -> str:
    return capsys.readouterr().err


def test_malformed_set_value_names_the_item(capsys):
    assert main(["run", "--set", "seeds=[0", "--no-progress"]) == 2
    err = _err(capsys)
    assert err.startswith("zcbench: error: --set 'seeds=[0': the value is not valid YAML")
    assert "Traceback" not in err
    with pytest.raises(ConfigError, match=r"--set 'archs=\{n: \[1'"):
        apply_overrides({}, ["archs={n: [1"])


def test_yaml_error_location_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad_study.yaml"
    bad.write_text("name: x\nspace: nb201\nseeds: [0\n")
    assert main(["run", str(bad), "--no-progress"]) == 2
    err = _err(capsys)
    assert f'in "{bad}", line 3' in err
    assert "<unicode string>" not in err
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    with pytest.raises(ConfigError, match="binary.yaml is not a text file"):
        load_study(binary)


def test_build_benchmark_refuses_a_negative_limit(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["build-benchmark", "search_spaces/embedded/nb201_fmnist.yaml", "--out", str(tmp_path / "o.csv"),
              "--limit", "-1"])
    assert exc.value.code == 2
    assert "--limit: must be at least 1" in _err(capsys)
    assert not (tmp_path / "o.csv").exists()


def test_batch_size_error_names_the_key(capsys):
    assert main(["run", "--set", "data.batch_size=0", "--no-progress"]) == 2
    assert "data.batch_size must be a positive integer" in _err(capsys)


def test_binary_ground_truth_csv_names_the_file(tmp_path, capsys):
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(128, 256)) * 20)
    assert main(["run", "--set", f"ground_truth.path={garbage}", "--set", "archs.n=3", "--no-progress",
                 "--out", str(tmp_path / "out")]) == 2
    err = _err(capsys)
    assert f"{garbage} is not a UTF-8 text CSV (utf-8: invalid start byte" in err and "codec" not in err
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"|nor_conv_3x3~0|\x00,1\n")
    assert main(["run", "--set", f"ground_truth.path={nul}", "--set", "archs.n=3", "--no-progress",
                 "--out", str(tmp_path / "out2")]) == 2
    assert f"{nul} is not a text CSV (a NUL byte" in _err(capsys)


def test_reg_grid_on_a_folder_without_a_finished_study(tmp_path, capsys):
    from experiments.store import Store

    with Store(tmp_path / "results.sqlite"):
        pass  # an empty store, as a run that stopped before scoring leaves
    assert main(["reg-grid", str(tmp_path), "--mu", "1", "--sigma", "1"]) == 2
    err = _err(capsys)
    assert "holds no scores of a study" in err and "YAML mapping" not in err


def test_swap_speed_leaves_the_committed_table_alone(tmp_path, monkeypatch, capsys):
    import torch

    from experiments.benchmarks import swap_speed

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        swap_speed.main(["--networks", "1", "--rounds", "1", "--batch", "4"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    table = (tmp_path / "zcbench-out" / "swap_speed.md").read_text()
    assert ", 1 torch threads," in table and "--out zcbench-out/swap_speed.md" in table
    assert not (tmp_path / "results").exists()
    assert "wrote zcbench-out/swap_speed.md" in capsys.readouterr().out


def test_list_spaces_fits_the_terminal_and_keeps_whole_sentences(monkeypatch, capsys):
    import search_spaces

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["list", "spaces"]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) < 80
    flat = " ".join(out.split())
    assert "one value per isomorphism class (see search_spaces/nb101_graph.py)." in flat  # nb101's whole paragraph
    assert all(n in out for n in search_spaces.list_spaces())


def test_list_with_a_pattern_that_matches_nothing_says_so(capsys):
    assert main(["list", "proxies", "swp"]) == 2
    err = capsys.readouterr()
    assert err.out == "" and "no proxy matches 'swp'; did you mean swap" in err.err
    assert main(["list", "spaces", "nb2O1"]) == 2
    assert "no space matches 'nb2O1'; did you mean nb201" in capsys.readouterr().err
