"""NAS-Bench-Suite-Zero's zc_<space>.json as ground truth and as a source of precomputed scores,
and the ground-truth format registry."""
import json

import numpy as np
import pytest
import yaml

from experiments.cli import main
from experiments.report import correlations_frame, scores_frame
from search_spaces.base import ArchParseError, get_space
from search_spaces.ground_truth import (FORMATS, GroundTruthError, GroundTruthNotFoundError, read_ground_truth,
                                        read_zc_json)

BASELINES = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params", "plain",
             "snip", "synflow", "zen")


def zc_json(path, space, archs, dataset="cifar10", seed=0, drop=()):
    """A file in NB-Suite-Zero's layout: {dataset: {str(hash): {proxy: {score, time}, val_accuracy}}}."""
    rng = np.random.default_rng(seed)
    table = {}
    for a in archs:
        rec = {p: {"score": float(rng.normal()), "time": float(rng.uniform(0.1, 2))} for p in BASELINES if p not in drop}
        rec["val_accuracy"] = float(rng.uniform(60, 95))
        table[space.zc_key(a)] = rec
    path.write_text(json.dumps({dataset: table}))
    return path


@pytest.fixture
def nb201():
    return get_space("nb201", C=4, N=1)


def test_reads_accuracy_and_scores_keyed_by_architecture(tmp_path, nb201):
    archs = nb201.sample(20, 3)
    f = zc_json(tmp_path / "zc_nasbench201.json", nb201, archs)
    raw = json.loads(f.read_text())["cifar10"]
    rec = read_zc_json(f, nb201, "cifar10")
    assert set(rec.val_accuracy) == set(archs) and sorted(rec.scores) == sorted(BASELINES)
    a = archs[5]
    assert rec.val_accuracy[a] == raw[nb201.zc_key(a)]["val_accuracy"]
    assert rec.scores["synflow"][a] == (raw[nb201.zc_key(a)]["synflow"]["score"], raw[nb201.zc_key(a)]["synflow"]["time"])
    gt = read_ground_truth(f, nb201, "cifar10")  # format picked from the .json suffix
    assert gt.metrics == ["val_accuracy"] and gt.metric("val_accuracy") == rec.val_accuracy
    # the dataset key may differ from the task name
    gt2 = read_ground_truth(f, nb201, "cifar100", format="nbsuite_zero", dataset="cifar10")
    assert len(gt2) == 20


def test_nb201_keys_are_naslib_op_indices(nb201):
    a = nb201.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    # op_indices order (1->2),(1->3),(1->4),(2->3),(2->4),(3->4); 0 skip, 1 none, 2 conv3, 3 conv1, 4 avg
    assert nb201.zc_key(a) == "(2, 2, 0, 4, 2, 0)"
    assert nb201.from_zc_key("(2, 2, 0, 4, 2, 0)") == a


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not valid JSON"),
    ("[]", "top level is not a non-empty mapping"),
    ('{"cifar10": []}', "not to architecture records"),
    ('{"cifar100": {}}', "has no dataset 'cifar10'; it has ['cifar100']"),
    ('{"cifar10": {"(0, 1)": {"val_accuracy": 1}}}', "op_indices must have 6 entries"),
    ('{"cifar10": {"banana": {"val_accuracy": 1}}}', "is not a NAS-Bench-Suite-Zero key"),
    ('{"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": "x"}}}', "not a finite number"),
    ('{"cifar10": {"(0, 0, 0, 0, 0, 0)": {"nwot": {"score": "x", "time": 1}}}}', "nwot.score"),
    ('{"cifar10": {"(0, 0, 0, 0, 0, 0)": {"nwot": {"score": 1, "time": 1}}}}', "no record of 'cifar10' has val_accuracy"),
])
def test_corrupt_files_say_what_was_expected(tmp_path, nb201, content, needle):
    f = tmp_path / "zc_nasbench201.json"
    f.write_text(content)
    with pytest.raises(GroundTruthError) as e:
        read_ground_truth(f, nb201, "cifar10")
    assert needle in str(e.value) and str(f) in str(e.value)


def test_missing_file_names_the_download(tmp_path, nb201):
    with pytest.raises(GroundTruthNotFoundError, match="download_nbs_zero.sh"):
        read_ground_truth(tmp_path / "zc_nasbench201.json", nb201, "cifar10")
    with pytest.raises(GroundTruthNotFoundError, match="download_nbs_zero.sh"):
        read_zc_json(tmp_path / "zc_nasbench201.json", nb201, "cifar10")


def test_format_registry_errors(tmp_path, nb201):
    f = zc_json(tmp_path / "scores.dat", nb201, nb201.sample(3, 0))
    with pytest.raises(GroundTruthError, match="no format matches its name.*set ground_truth.format to one of"):
        read_ground_truth(f, nb201, "cifar10")
    with pytest.raises(GroundTruthError, match="unknown ground-truth format 'zc'; known formats:"):
        read_ground_truth(f, nb201, "cifar10", format="zc")
    with pytest.raises(GroundTruthError, match="takes no option\\(s\\) \\['arch_column'\\]"):
        read_ground_truth(f, nb201, "cifar10", format="nbsuite_zero", arch_column=2)
    assert read_ground_truth(f, nb201, "cifar10", format="nbsuite_zero").n_rows == 3
    only = [n for n, fmt in FORMATS.items() if fmt.spaces and "nb201" not in fmt.spaces]
    if only:  # a format of another space is refused for nb201
        with pytest.raises(GroundTruthError, match="serves space"):
            read_ground_truth(f, nb201, "cifar10", format=only[0])


def test_space_without_nbsuite_zero_keys_says_so(tmp_path):
    darts = get_space("darts")
    (tmp_path / "zc.json").write_text('{"cifar10": {"x": {"val_accuracy": 1}}}')
    with pytest.raises(GroundTruthError, match="no format matches its name for space 'darts'"):
        read_ground_truth(tmp_path / "zc.json", darts, "cifar10")
    with pytest.raises(GroundTruthError, match="serves space\\(s\\) those in NAS-Bench-Suite-Zero, not 'darts'"):
        read_ground_truth(tmp_path / "zc.json", darts, "cifar10", format="nbsuite_zero")
    with pytest.raises(NotImplementedError, match="not in NAS-Bench-Suite-Zero"):
        read_zc_json(tmp_path / "zc.json", darts, "cifar10")


# ---- precomputed scores in a study -----------------------------------------------------------

def study(tmp_path, nb201, archs, **pre):
    f = zc_json(tmp_path / "zc_nasbench201.json", nb201, archs, drop=pre.pop("drop", ()))
    raw = {"name": "zc", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 8, "size": 8},
           "ground_truth": {"path": str(f)}, "archs": {"from": "ground_truth", "n": None}, "seeds": [0, 1],
           "proxies": ["synflow", "nwot", {"flops": {}}, {"nwot_mine": {"proxy": "nwot", "leaky": False}}
                       if pre.pop("with_options", False) else "params"],
           "precomputed": {"path": str(f), **pre}}
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    return cfg, json.loads(f.read_text())["cifar10"]


def stored(out):
    """(seed, arch, proxy label, value, seconds, status, message) of every score of the study."""
    f = scores_frame(out)
    f = f[f["status"] != "unscored"]
    return list(f[["seed", "arch", "proxy", "value", "seconds", "status", "message"]].itertuples(index=False))


def test_precomputed_scores_are_read_not_computed(tmp_path, nb201):
    archs = nb201.sample(12, 1)
    cfg, raw = study(tmp_path, nb201, archs, proxies=["synflow", "flops"])
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    rows = stored(out)
    by = {(s, a, p): (v, t, st, m) for s, a, p, v, t, st, m in rows}
    for a in archs:
        rec = raw[nb201.zc_key(a)]
        for seed in (0, 1):
            v, t, st, m = by[(seed, str(a), "synflow")]
            assert (v, t, st) == (rec["synflow"]["score"], rec["synflow"]["time"], "ok") and m.startswith("precomputed")
            assert by[(seed, str(a), "flops")][0] == rec["flops"]["score"]
            assert by[(seed, str(a), "nwot")][-1] == ""  # computed here


def test_precomputed_all_skips_proxies_with_own_options(tmp_path, nb201):
    archs = nb201.sample(6, 2)
    cfg, raw = study(tmp_path, nb201, archs, with_options=True)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    msgs = {p: m for _, _, p, _, _, _, m in stored(out)}
    assert msgs["synflow"].startswith("precomputed") and msgs["nwot"].startswith("precomputed")
    assert msgs["flops"].startswith("precomputed") and msgs["nwot_mine"] == ""


def test_architecture_missing_from_precomputed_file_is_a_failed_row(tmp_path, nb201):
    archs = nb201.sample(8, 4)
    cfg, raw = study(tmp_path, nb201, archs, proxies=["synflow"])
    other = nb201.sample(20, 9)
    spec = yaml.safe_load(cfg.read_text())
    gt = tmp_path / "gt.csv"
    gt.write_text("".join(f"{a},{70 + i}\n" for i, a in enumerate(other)))
    spec["ground_truth"] = {"path": str(gt)}
    cfg.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    rows = [r for r in stored(out) if r[2] == "synflow"]
    missing = [r for r in rows if r[5] == "failed"]
    assert missing and all("not in the precomputed file" in r[6] for r in missing)
    assert len(missing) == 2 * sum(a not in set(archs) for a in other)


@pytest.mark.parametrize("pre,needle", [
    ({"proxies": ["snip"]}, "precomputed.proxies ['snip'] are not proxies of the study"),
    ({"proxies": ["synflow"], "drop": ("synflow",)}, "precomputed.proxies ['synflow'] are not in"),
    ({"proxies": "synflow"}, "must be 'all' or a list"),
    ({"dataset": "cifar100"}, "has no dataset 'cifar100'"),
])
def test_precomputed_config_errors(tmp_path, nb201, capsys, pre, needle):
    cfg, _ = study(tmp_path, nb201, nb201.sample(5, 0), **pre)
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert needle in capsys.readouterr().err


def test_compare_computes_only_the_new_proxy(tmp_path, nb201, capsys):
    archs = nb201.sample(10, 5)
    cfg, raw = study(tmp_path, nb201, archs)
    out = tmp_path / "cmp"
    assert main(["compare", str(cfg), "--proxy", "swap", "--baselines", *BASELINES, "--out", str(out),
                 "--no-progress"]) == 0
    assert "swap ranks" in capsys.readouterr().out
    computed = {p for _, _, p, _, _, _, m in stored(out) if not m.startswith("precomputed")}
    assert computed == {"swap"}


def test_compare_defaults_to_the_precomputed_baselines_and_says_what_it_will_compute(tmp_path, nb201, capsys):
    """Without --baselines, compare's baselines are the file's 13 proxies (read, not computed):
    only the new proxy is computed, and before scoring it prints that, with an estimate."""
    archs = nb201.sample(10, 5)
    cfg, raw = study(tmp_path, nb201, archs, drop=("zen",))  # a file without zen: zen is no baseline
    out = tmp_path / "cmp"
    assert main(["compare", str(cfg), "--proxy", "swap", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    plan = text[text.index("zcbench compare will:"):text.index("swap ranks")]
    assert "read from the precomputed file: " + ", ".join(sorted(set(BASELINES) - {"zen"})) in plan
    assert "to compute on 20 networks (over seeds): swap\n" in plan  # 10 archs x 2 seeds
    assert "estimate: " in plan and "in one process (3 networks timed here: " in plan
    assert "of 13 by mean Spearman" in text  # swap and the file's 12
    computed = {p for _, _, p, _, _, _, m in stored(out) if not m.startswith("precomputed")}
    assert computed == {"swap"}
    reported = set(correlations_frame(out)["proxy"])
    assert reported == (set(BASELINES) - {"zen"}) | {"swap"}
    # the same command again: everything is stored, nothing to compute and no network timed
    assert main(["compare", str(cfg), "--proxy", "swap", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "already stored: swap (nothing to compute)" in captured.out and "timing one" not in captured.err


def test_compare_baselines_when_asked_and_a_list_of_precomputed_proxies(tmp_path, nb201, capsys):
    archs = nb201.sample(6, 5)
    cfg, _ = study(tmp_path, nb201, archs, proxies=["synflow", "params"])
    out = tmp_path / "cmp"
    # precomputed.proxies names two: those are the default baselines
    assert main(["compare", str(cfg), "--proxy", "nwot", "--out", str(out), "--no-progress"]) == 0
    assert set(correlations_frame(out)["proxy"]) == {"nwot", "synflow", "params"}
    # --baselines adds others, computed (sap is not in the file)
    capsys.readouterr()
    assert main(["compare", str(cfg), "--proxy", "nwot", "--baselines", "synflow", "params", "sap", "--out",
                 str(tmp_path / "c2"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "read from the precomputed file: params, synflow\n  to compute on 12 networks (over seeds): nwot, sap\n" \
        in text
    assert set(correlations_frame(tmp_path / "c2")["proxy"]) == {"nwot", "synflow", "params", "sap"}


def test_reference_correlations_side_by_side(tmp_path, nb201):
    """With an NB-Suite-Zero json as ground truth, each proxy it holds gets the file's own
    Spearman on the same architectures next to zcbench's (here nwot is computed, synflow read)."""
    from scipy import stats

    archs = nb201.sample(12, 1)
    cfg, raw = study(tmp_path, nb201, archs, proxies=["synflow"])
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    corr = correlations_frame(out)
    syn = corr[corr["proxy"] == "synflow"]
    assert np.allclose(syn["reference_spearman"], syn["spearman"])  # read from the file: the same scores
    nwot = corr[(corr["proxy"] == "nwot") & (corr["seed"] == 0)].iloc[0]
    recs = [raw[nb201.zc_key(a)] for a in archs]
    want = stats.spearmanr([r["nwot"]["score"] for r in recs], [r["val_accuracy"] for r in recs]).statistic
    assert nwot["reference_spearman"] == pytest.approx(want) and nwot["n"] == 12
    assert "NB-Suite-Zero ρ" in (out / "summary.md").read_text()
# ---- the pre-release layouts of NASLib's history ---------------------------------------------

def test_pre_release_nb301_list_keys(tmp_path):
    nb301 = get_space("nb301", **get_space("nb301").small_options)
    a, b = nb301.sample(2, 0)
    listed = str([list(cell) for cell in nb301.from_zc_key(nb301.zc_key(a)).to_compact()])
    assert listed.startswith("[[(")  # "[[(0, 0), (1, 5), ...], [...]]" as the pre-release file
    f = tmp_path / "zc_nasbench301.json"
    f.write_text(json.dumps({"cifar10": {listed: {"val_accuracy": 90.0, "flops": {"score": 1.0, "time": 0.1}},
                                         nb301.zc_key(b): {"val_accuracy": 91.0}}}))
    rec = read_zc_json(f, nb301, "cifar10")
    assert rec.val_accuracy == {a: 90.0, b: 91.0} and rec.scores["flops"][a] == (1.0, 0.1)
    with pytest.raises(ArchParseError, match="is not a NAS-Bench-Suite-Zero key"):
        get_space("nb201").from_zc_key("[0, 1, 2, 3, 4, 0]")  # lists only where a space reads them


def test_pre_release_nb101_nesting_and_bare_scores(tmp_path):
    nb101 = get_space("nb101")
    a = nb101.sample(1, 0)[0]
    f = tmp_path / "zc_nasbench101.json"
    f.write_text(json.dumps({"nasbench101": {"cifar10": {nb101.zc_key(a): {"val_accuracy": 92.5, "snip": 112.0,
                                                                           "flops": 624.5}}}}))
    rec = read_zc_json(f, nb101, "cifar10")
    assert rec.val_accuracy == {a: 92.5}
    score, secs = rec.scores["snip"][a]
    assert score == 112.0 and np.isnan(secs)  # a bare number: no time recorded
    assert read_ground_truth(f, nb101, "cifar10").metric("val_accuracy") == {a: 92.5}
    with pytest.raises(GroundTruthError, match="has no dataset 'cifar100'; it has \\['cifar10'\\]"):
        read_zc_json(f, nb101, "cifar100")
