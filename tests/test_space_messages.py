"""A space's user errors reach the command line as ``zcbench: error: ...`` with exit status 2
and no traceback: a bad architecture string in a file the study reads, a bad space option, a
sample larger than the space, and options that do not fit the task. Two spaces at least for
each, so that the rule holds for the spaces and not for one of them."""
import pytest
import yaml

from experiments.cli import main
from search_spaces import get_space
from search_spaces.base import ArchParseError
from zc_proxies.errors import UsageError

TNB_SMALL = {"base_channels": 8, "input_size": 32, "decoder_width": 64}


def study(tmp_path, space, options=None, task="cifar10", archs=None, gt=None, size=32):
    """A one-proxy study on noise inputs, written to ``tmp_path``; its path."""
    cfg = {"name": f"t_{space}", "space": space, "space_options": options or {}, "task": task,
           "data": {"source": "noise", "batch_size": 2, "size": size},
           "archs": archs or {"from": "sample", "n": 2}, "seeds": [0], "proxies": ["params"]}
    if gt is not None:
        cfg["ground_truth"] = {"path": str(gt), "metric": "acc"}
    path = tmp_path / f"{space}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_error(tmp_path, capsys, config) -> str:
    """The stderr of ``zcbench run config``, which must fail as a user's error."""
    assert main(["run", str(config), "--no-progress", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("space,task,bad,needle", [
    ("nb201", "cifar10", "|nor_conv_3x3~0|+|bad_op~0|none~1|+|none~0|none~1|none~2|", "unknown op 'bad_op'"),
    ("tnb101_micro", "class_scene", "64-41414-3_37_333", "op digit '7' of edge c"),
    ("darts", "cifar10", "Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2, 3, 4, 5])",
     "missing fields 'reduce', 'reduce_concat'"),
])
def test_a_bad_architecture_string_in_a_file(tmp_path, capsys, space, task, bad, needle):
    csv = tmp_path / "truth.csv"
    csv.write_text(f'arch,acc\n"{bad}",50.0\n')
    options = TNB_SMALL if space.startswith("tnb101") else {}
    err = run_error(tmp_path, capsys, study(tmp_path, space, options, task, {"from": "ground_truth", "n": None}, csv))
    assert f"{csv}, row 2: cannot parse architecture" in err and needle in err


@pytest.mark.parametrize("space,options,task,needle", [
    ("nb201", {"C": 0}, "cifar10", "NB201 option C must be a positive int, got 0"),
    ("tnb101_micro", {**TNB_SMALL, "input_size": 30}, "class_scene", "TNB101 option input_size must be a power of two"),
    ("nb101", {"canonical_order": "yes"}, "cifar10", "NB101 option canonical_order must be true or false"),
    ("autoformer", {"preset": "huge"}, "imagenet", "AutoFormer preset must be one of small, tiny, base"),
])
def test_a_bad_space_option(tmp_path, capsys, space, options, task, needle):
    assert needle in run_error(tmp_path, capsys, study(tmp_path, space, options, task))


@pytest.mark.parametrize("space,options,task,n,needle", [
    ("nb201", {"C": 8, "N": 1}, "cifar10", 15626, "can sample 1..15625 distinct NB201 architectures, asked for 15626"),
    ("tnb101_micro", TNB_SMALL, "autoencoder", 4097, "can sample 1..4096 distinct tnb101_micro architectures"),
])
def test_a_sample_larger_than_the_space(tmp_path, capsys, space, options, task, n, needle):
    err = run_error(tmp_path, capsys, study(tmp_path, space, options, task, {"from": "sample", "n": n}))
    assert needle in err and "(archs.n)" in err


def test_options_that_do_not_fit_the_task(tmp_path, capsys):
    """darts' stem-less scorer: C is the input's channel count, so C=5 cannot read RGB images;
    the error comes from building the network, while scoring."""
    err = run_error(tmp_path, capsys, study(tmp_path, "darts", {"C": 5}))
    assert "C=5 must equal the input channels of task 'cifar10' (3); set space_options.C to 3" in err


@pytest.mark.parametrize("make,error", [
    (lambda: get_space("nb201").mutate("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", None, "swap"), UsageError),
    (lambda: get_space("darts").mutate(get_space("darts").sample(1, 0)[0], None, "swap"), UsageError),
    (lambda: get_space("nb201").from_index(15625), UsageError),
    (lambda: get_space("tnb101_micro").all_archs()[0].__class__((1, 2, 3)), ArchParseError),
    (lambda: get_space("nb201").parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|").__class__(("none",)),
     ArchParseError),
    (lambda: get_space("darts").parse("Genotype(normal=[('none', 0), ('none', 1), ('none', 0), ('none', 1), "
                                      "('none', 0), ('none', 1), ('none', 0), ('none', 1)], normal_concat=[2, 3, 4, 5], "
                                      "reduce=[('none', 0), ('none', 1), ('none', 0), ('none', 1), ('none', 0), "
                                      "('none', 1), ('none', 0), ('none', 1)], reduce_concat=[2, 3, 4, 5])").to_compact(),
     ArchParseError),
])
def test_values_a_user_gives_raise_the_project_errors(make, error):
    """Through the Python API too: a mutation kind, an index, an architecture value; each is
    still the built-in ValueError that callers used to catch."""
    with pytest.raises(error) as exc:
        make()
    assert isinstance(exc.value, ValueError)
