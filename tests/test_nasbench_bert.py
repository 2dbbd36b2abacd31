"""Space nasbench_bert: strings and ids, the encoder (parameter counts, transforms, attention
mask), SWAP against the plain sign matrix, the BERT_benchmark.json reader, token inputs and
`zcbench download nas-bench-bert`."""
from __future__ import annotations

import csv
import dataclasses
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
from scipy.stats import spearmanr
import torch
from torch import nn

import zc_proxies
from experiments import download as D
from experiments.cli import main
from search_spaces.base import ArchParseError, get_space, list_spaces, seeded_build
from search_spaces.data import BERT_CLS, BERT_SEP, DataError, DataNotFoundError, load_tokens
from search_spaces.ground_truth import GroundTruthError, GroundTruthNotFoundError, read_ground_truth
from search_spaces.nasbench_bert import _dct_matrix, read_records
from zc_proxies.swap import collect_codes, swap_reference

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nas_bench_bert"
BENCH = DATA / "BERT_benchmark.json"
needs_shared = pytest.mark.skipif(not BENCH.is_file(), reason=f"needs the reference data in {DATA}")

SMALL = {"vocab_size": 2100, "seq_len": 12}
HAND = "h128:SA-SDP-2-512x1,LT-DFT-2-512x1"
MIXED = "h128:SA-WMA-4-512x3,DSC-9-2-1024x1,LT-DCT-4-512x1,DSC-5-4-512x3"


def test_listed_and_strings_round_trip():
    assert "nasbench_bert" in list_spaces()
    space = get_space("nasbench_bert")
    archs = space.sample(20, 0)
    assert len(set(archs)) == 20 and archs == space.sample(20, 0)
    for a in archs:
        assert space.parse(str(a)) == a
    a = space.parse(MIXED)
    assert str(a) == MIXED and a.layers[1].param == 9 and a.layers[0].ff_count == 3
    assert space.space_size() == 2 * (48 ** 2 + 48 ** 4)
    for bad, needle in [("h512:SA-SDP-2-512x1,SA-SDP-2-512x1", "hidden size 512"),
                        ("h128:SA-DFT-2-512x1,SA-SDP-2-512x1", "SA takes parameter SDP or WMA"),
                        ("h128:SA-SDP-2-512x1", "1 encoder layers"),
                        ("h128:SA-SDP-3-512x1,SA-SDP-2-512x1", "heads 3"),
                        ("nonsense", "expected h<128|256>")]:
        with pytest.raises(ArchParseError, match=needle):
            space.parse(bad)


def test_parameter_count_by_hand():
    # embeddings: word 30522 x 128, position 512 x 128, token type 2 x 128, LayerNorm 2 x 128;
    # no projection (hidden = embedding size = 128)
    emb = 30522 * 128 + 512 * 128 + 2 * 128 + 2 * 128
    ffn = (128 * 512 + 512) + (512 * 128 + 128) + 2 * 128  # one dense 128->512, output 512->128, LayerNorm
    sa = 3 * (128 * 128 + 128) + (128 * 128 + 128) + 2 * 128 + ffn  # q, k, v; dense + LayerNorm; FFN
    lt = (128 * 128 + 128) + ffn  # input dense, no output projection; FFN
    space = get_space("nasbench_bert")
    assert emb + sa + lt == 4_319_616
    assert space.num_params(HAND, "glue") == 4_319_616
    # universal sizes: hidden 256 (+ projection 128 -> 256), every FFN 1024 wide
    u = get_space("nasbench_bert", sizes="universal")
    emb_u = emb + 128 * 256 + 256
    ffn_u = (256 * 1024 + 1024) + (1024 * 256 + 256) + 2 * 256
    sa_u = 3 * (256 * 256 + 256) + (256 * 256 + 256) + 2 * 256 + ffn_u
    lt_u = (256 * 256 + 256) + ffn_u
    assert u.num_params(HAND, "glue") == emb_u + sa_u + lt_u


@needs_shared
def test_universal_sizes_match_the_authors_parameter_counts():
    """The benchmark authors' training-free table (BERT_results_activation.csv, 'Number of
    Parameters') was computed on their PyTorch encoder with hidden 256 / FFN 1024 for every
    model: the same counts pin every operation's layers (SA, WMA, DFT, DCT, DSC 5/9)."""
    with open(DATA / "BERT_results_activation.csv") as f:
        want = {int(r["ID"]): int(r["Number of Parameters"]) for r in csv.DictReader(f)}
    space = get_space("nasbench_bert", sizes="universal")
    records = read_records(BENCH)
    picked = records[:12]
    seen = {(l.op, l.param) for _, a, _ in picked for l in a.layers}
    assert seen == {("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)}
    for rid, arch, _ in picked:
        assert space.num_params(arch, "glue") == want[rid], rid


def test_transforms_equal_numpy_and_scipy():
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    dct = _dct_matrix(7) @ x @ _dct_matrix(5).T
    assert np.allclose(dct.numpy(), scipy.fft.dctn(x.numpy(), type=2, axes=(-2, -1)))
    torch.manual_seed(0)
    net = get_space("nasbench_bert", **SMALL).build("h128:LT-DFT-2-512x1,LT-DCT-4-512x1", "glue")
    h = torch.randn(2, 6, 128)
    dft = net.layers[0].operation
    heads = dft.input(h).view(2, 6, 2, 64).transpose(1, 2).detach().numpy()
    want = np.fft.fft2(heads).real.transpose(0, 2, 1, 3).reshape(2, 6, 128)
    assert np.allclose(dft(h, None).detach().numpy(), want, atol=1e-4)


def test_attention_mask_is_honoured_or_ignored():
    arch = "h128:SA-SDP-2-512x1,SA-WMA-4-512x3"
    ids = torch.randint(1996, 2100, (2, 10), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 10, dtype=torch.int64)
    mask[:, 7:] = 0
    other = ids.clone()
    other[:, 7:] = 2000  # different tokens at the padded positions
    for opt, same in (("honour", True), ("ignore", False)):
        net = seeded_build(get_space("nasbench_bert", attention_mask=opt, **SMALL), arch, "glue", 0)
        a = net(torch.stack([ids, mask], 1))[:, :7]
        b = net(torch.stack([other, mask], 1))[:, :7]
        assert torch.allclose(a, b, atol=1e-5) is same
    with pytest.raises(ValueError, match="takes int64 token ids"):
        net(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="token ids must lie in 0..2099"):
        net(torch.full((1, 4), 2100))


@pytest.mark.parametrize("arch", [HAND, MIXED])
@pytest.mark.parametrize("sizes", ["benchmark", "universal"])
def test_swap_equals_the_plain_sign_matrix(arch, sizes):
    space = get_space("nasbench_bert", sizes=sizes, **SMALL)
    x, _ = space.task_batch("glue", torch.zeros(16, 3, 1, 1), torch.zeros(16), 0)
    net = seeded_build(space, arch, "glue", 0)
    outs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o.reshape(o.shape[0], -1)))
             for m in net.modules() if isinstance(m, nn.GELU)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    n_calls = sum(l.ff_count for l in space.parse(arch).layers)
    assert len(outs) == n_calls  # every feed-forward GELU call, as the universal script hooks them
    want = torch.unique(torch.cat(outs, 1).sign().t(), dim=0).shape[0]
    assert collect_codes(net, x, activations="relu_gelu", gelu_sign="ternary").swap() == want
    assert swap_reference(net, x, "relu_gelu") == want
    r = zc_proxies.score(zc_proxies.Probe(net, x), {"swap": ("swap", {"activations": "relu_gelu", "reinit": "none"})})
    assert r["swap"].value == want > 16


def test_loss_proxies_say_why_they_are_undefined():
    space = get_space("nasbench_bert", **SMALL)
    x, y = space.task_batch("glue", torch.zeros(4, 3, 1, 1), torch.zeros(4), 0)
    info = space.task("glue")
    net = seeded_build(space, HAND, "glue", 0)
    r = zc_proxies.score(zc_proxies.Probe(net, x, y, loss=info.loss), {"snip": ("snip", {}), "swap": ("swap", {})})
    assert r["snip"].status == "failed" and "no task head" in r["snip"].message
    assert r["swap"].status == "failed" and "try activations='relu_gelu'" in r["swap"].message


# ----------------------------------------------------------------------------- ground truth

@needs_shared
def test_reader_reads_the_benchmark():
    space = get_space("nasbench_bert", benchmark_path=str(BENCH))
    gt = read_ground_truth(BENCH, space, "glue")
    assert gt.metrics == ["cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst", "sts", "glue"]
    assert gt.n_rows == 500 and len(gt) == 491 and gt.n_duplicates == 9
    a0 = space.parse("0")
    assert space.parse("id:0") == a0 and str(a0) == "h256:SA-WMA-4-1024x3,LT-DCT-2-512x3,SA-SDP-4-512x3,SA-SDP-4-1024x1"
    assert gt.values[a0]["glue"] == pytest.approx(74.73375) and gt.values[a0]["cola"] == 42.69
    with pytest.raises(ArchParseError, match="record id 500 is not in"):
        space.parse("500")


def _record(arch, rid=0, **scores):
    base = {k: 50.0 for k in ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst", "sts", "glue")}
    over = {"hidden_size": arch.hidden, "nas_config": {"encoder_layers": [l.record() for l in arch.layers]}}
    return {"id": rid, "scores": {**base, **scores}, "hparams": {"model_hparam_overrides": over}}


def test_reader_errors_name_the_file_and_the_download(tmp_path):
    space = get_space("nasbench_bert")
    missing = tmp_path / "BERT_benchmark.json"
    with pytest.raises(GroundTruthNotFoundError, match=r"BERT_benchmark.json: no such file.*download it from "
                                                       r"https://raw.githubusercontent.com/aaronserianni/training-free-nas"):
        read_ground_truth(missing, space, "glue")
    arch = space.sample(1, 0)[0]
    cases = [("not json {", "is not JSON"),
             (json.dumps({"a": 1}), "holds a dict, not a list of records"),
             (json.dumps([{"id": 0}]), "record 0 has no integer id and scores mapping"),
             (json.dumps([_record(arch, glue=None)]), r"scores.glue is None, not a finite number"),
             (json.dumps([{"id": 0, "scores": {}, "hparams": {}}]), "not a NAS-Bench-BERT record")]
    for i, (text, needle) in enumerate(cases):
        p = tmp_path / f"{i}_BERT_benchmark.json"
        p.write_text(text)
        with pytest.raises(GroundTruthError) as ei:
            read_ground_truth(p, space, "glue")
        msg = str(ei.value)
        assert str(p) in msg and "Expected NAS-Bench-BERT's BERT_benchmark.json" in msg
        assert "zcbench download nas-bench-bert" in msg
        assert __import__("re").search(needle, msg), msg
    good = tmp_path / "BERT_benchmark.json"
    good.write_text(json.dumps([_record(arch, 0, glue=60.0), _record(arch, 1, glue=70.0)]))
    gt = read_ground_truth(good, space, "glue")
    assert gt.values[arch]["glue"] == 65.0 and gt.n_duplicates == 1
    with pytest.raises(GroundTruthError, match="only task is 'glue'"):
        read_ground_truth(good, space, "cifar10")


# ----------------------------------------------------------------------------- token inputs

def test_zipf_tokens_are_seeded_offline_and_zipfian():
    ids, mask = load_tokens("zipf", 8, seq_len=64, seed=3)
    again, _ = load_tokens("zipf", 8, seq_len=64, seed=3)
    assert ids.shape == mask.shape == (8, 64) and torch.equal(ids, again) and bool(mask.all())
    assert (ids[:, 0] == BERT_CLS).all() and (ids[:, -1] == BERT_SEP).all()
    words = ids[:, 1:-1]
    assert int(words.min()) >= 1996 and int(words.max()) < 30522
    assert float((words == 1996).float().mean()) > 0.05  # rank 1 ("the") about 1/H(28526) = 9 %
    assert not torch.equal(ids, load_tokens("zipf", 8, seq_len=64, seed=4)[0])
    with pytest.raises(DataError, match="unknown token source 'words'"):
        load_tokens("words", 2)
    with pytest.raises(DataError, match="needs both a text file"):
        load_tokens("text", 2)


def test_text_tokens_with_a_tokenizers_file(tmp_path):
    tokenizers = pytest.importorskip("tokenizers", reason="the optional extra 'text' (tokenizers) is not installed")
    from tokenizers import models, pre_tokenizers, processors

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "cat": 5, "sat": 6, "on": 7, "mat": 8}
    tok = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok_file = tmp_path / "tokenizer.json"
    tok.save(str(tok_file))
    text = tmp_path / "corpus.txt"
    text.write_text("the cat sat on the mat\n\nthe dog\nmat mat mat mat mat mat mat mat\n")
    ids, mask = load_tokens("text", 3, seq_len=6, vocab_size=30522, path=text, tokenizer=tok_file)
    assert ids.tolist() == [[2, 4, 5, 6, 7, 3], [2, 4, 1, 3, 0, 0], [2, 8, 8, 8, 8, 3]]
    assert mask.tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0], [1] * 6]
    with pytest.raises(DataError, match="holds 3 non-empty lines"):
        load_tokens("text", 4, seq_len=6, path=text, tokenizer=tok_file)
    with pytest.raises(DataNotFoundError, match="nothere.txt: no such file; expected a text file"):
        load_tokens("text", 1, path=tmp_path / "nothere.txt", tokenizer=tok_file)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="not a HF tokenizers file"):
        load_tokens("text", 1, path=text, tokenizer=tmp_path / "bad.json")
    # through the space: (N, 2, L) ids and mask, the padded positions masked in attention
    space = get_space("nasbench_bert", tokens="text", text_path=str(text), tokenizer_path=str(tok_file), seq_len=6)
    x, y = space.task_batch("glue", torch.zeros(3, 3, 1, 1), torch.zeros(3), 0)
    assert x.shape == (3, 2, 6) and torch.equal(x[:, 0], ids) and torch.equal(x[:, 1], mask)


# ----------------------------------------------------------------------------- download

def test_download_nas_bench_bert(tmp_path, monkeypatch, capsys):
    space = get_space("nasbench_bert")
    body = json.dumps([_record(a, i) for i, a in enumerate(space.sample(500, 0))]).encode()
    files = {"/BERT_benchmark.json": body, "/short.json": json.dumps([_record(space.sample(1, 0)[0])]).encode()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        d = D.DOWNLOADS["nas-bench-bert"]
        assert d.url.startswith("https://raw.githubusercontent.com/aaronserianni/training-free-nas/") and d.url.endswith(
            "/data/BERT_benchmark.json")
        monkeypatch.setitem(D.DOWNLOADS, "nas-bench-bert", dataclasses.replace(d, url=url + "/short.json"))
        with pytest.raises(D.DownloadError, match="1 records, expected 500"):
            D.download("nas-bench-bert", tmp_path / "c")
        monkeypatch.setitem(D.DOWNLOADS, "nas-bench-bert", dataclasses.replace(d, url=url + "/BERT_benchmark.json"))
        monkeypatch.setenv("ZCBENCH_CACHE", str(tmp_path / "c"))
        assert main(["download", "nas-bench-bert"]) == 0
        assert "500 NAS-Bench-BERT encoders" in capsys.readouterr().out
        assert (tmp_path / "c" / "BERT_benchmark.json").read_bytes() == body
    finally:
        srv.shutdown()
        srv.server_close()


def test_cli_lists_the_space(capsys):
    assert main(["list", "spaces"]) == 0
    assert "nasbench_bert" in capsys.readouterr().out


def test_study_and_table_on_a_tiny_benchmark(tmp_path, monkeypatch):
    """A 6-record benchmark through `zcbench run` (the shipped config, small inputs) and the
    table script, with a fake authors' CSV: per-task Spearman rows and the authors' rows."""
    from experiments.benchmarks import nasbench_bert_table

    space = get_space("nasbench_bert")
    archs = [a for a in space.sample(40, 1) if a.hidden == 128 and len(a.layers) == 2][:6]
    recs = [_record(a, i, glue=60.0 + i, cola=40.0 - i) for i, a in enumerate(archs)]
    bench = tmp_path / "BERT_benchmark.json"
    bench.write_text(json.dumps(recs))
    acts = tmp_path / "acts.csv"
    acts.write_text("ID,GLUE Score,Metric A\n" + "".join(f"{i},{60 + i},{i * i}\n" for i in range(6)))
    out = tmp_path / "run"
    cfg = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "nasbench_bert.yaml"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--set", f"ground_truth.path={bench}",
                 "--set", "seeds=[0, 1]", "--set", "data.batch_size=4", "--set", "space_options.seq_len=8"]) == 0
    nasbench_bert_table.main(["--run", str(out), "--run", f"again={out}", "--tagged-proxies", "params",
                              "--benchmark", str(bench), "--activations", str(acts), "--out", str(tmp_path / "t.md")])
    text = (tmp_path / "t.md").read_text()
    assert "6 distinct architectures, mean ± std over seeds [0, 1]" in text
    assert "| Metric A | 1.000 | -1.000 |" in text  # GLUE rises with i, cola falls
    params = next(l for l in text.splitlines() if l.startswith("| params |"))
    want = spearmanr([space.num_params(a, "glue") for a in archs], range(6))[0]
    assert params.split("|")[2].strip() == f"{want:.3f} ± 0.000"
    assert "| params (again) |" in text and "| swap (again) |" not in text and "| swap |" in text


@pytest.mark.parametrize("setting,needle", [
    ("space_options.sizes=huge", "option sizes must be one of ('benchmark', 'universal'), not 'huge'"),
    ("space_options.attention_mask=maybe", "option attention_mask must be one of ('honour', 'ignore')"),
    ("space_options.tokens=text", "token source 'text' needs both a text file (text_path) and a tokenizers file"),
])
def test_cli_errors_say_what_to_set(tmp_path, capsys, setting, needle):
    bench = tmp_path / "BERT_benchmark.json"
    space = get_space("nasbench_bert")
    bench.write_text(json.dumps([_record(a, i, glue=50.0 + i) for i, a in enumerate(space.sample(3, 0))]))
    cfg = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "nasbench_bert.yaml"
    rc = main(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-progress", "--set", f"ground_truth.path={bench}",
               "--set", setting])
    err = capsys.readouterr().err
    assert rc == 2 and "zcbench: error:" in err and needle in err
