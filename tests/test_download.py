"""`zcbench download`: fetching into the cache from a local HTTP server (no internet), the
offline error, atomic writes, and the `cache:` paths the DARTS study configs use."""
from __future__ import annotations

import contextlib
import dataclasses
import http.server
import socket
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments import download as D
from experiments.cli import main
from search_spaces.base import get_space
from search_spaces.data import CACHE_FILES, DataError, DataNotFoundError, cache_dir, resolve_path

CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
DARTS_CONFIGS = ("darts1000_all_proxies.yaml", "swap_darts1000.yaml", "swap_darts1000_input_size.yaml")


@pytest.fixture(scope="module")
def darts_csv() -> bytes:
    """A file in the SWAP authors' format: 1000 rows `"Genotype(...)",accuracy`, no header."""
    rng = np.random.default_rng(0)
    archs = get_space("darts").sample(1000, 0)
    return "".join(f'"{a}",{rng.uniform(80, 95):.2f}\n' for a in archs).encode()


@pytest.fixture
def server(darts_csv):
    """A local HTTP server: /DARTS_archs_CIFAR10.csv (the fixture), /short.csv (3 rows), else 404."""
    files = {"/DARTS_archs_CIFAR10.csv": darts_csv, "/short.csv": b"\n".join(darts_csv.splitlines()[:3])}
    hits: list[str] = []
    with serving(files, hits) as url:
        yield url, hits


@contextlib.contextmanager
def serving(files: dict[str, bytes], hits: list[str] | None = None):
    """A loopback HTTP server of ``files`` ({path: body}; any other path 404), its URL; the paths
    asked for are appended to ``hits``."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if hits is not None:
                hits.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def at(monkeypatch):
    """Point the swap-darts1000 download at another URL."""
    def point(url: str) -> None:
        monkeypatch.setitem(D.DOWNLOADS, "swap-darts1000", dataclasses.replace(D.DOWNLOADS["swap-darts1000"], url=url))
    return point


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused, as when offline
    return port


def test_downloads_match_the_cache_registry():
    d = D.DOWNLOADS["swap-darts1000"]
    assert d.url == "https://raw.githubusercontent.com/pym1024/SWAP/main/datasets/DARTS_archs_CIFAR10.csv"
    assert CACHE_FILES[d.filename][0] == "swap-darts1000" and CACHE_FILES[d.filename][2] == d.url


def test_download_checks_and_renames_into_place(tmp_path, server, at, darts_csv):
    url, hits = server
    at(url + "/DARTS_archs_CIFAR10.csv")
    path, summary, fetched = D.download("swap-darts1000", tmp_path / "cache")
    assert fetched and path == tmp_path / "cache" / "DARTS_archs_CIFAR10.csv" and path.read_bytes() == darts_csv
    assert summary.startswith("1000 DARTS genotypes") and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    # a valid copy is kept; --force fetches again; a damaged copy is replaced
    assert D.download("swap-darts1000", tmp_path / "cache")[2] is False and len(hits) == 1
    assert D.download("swap-darts1000", tmp_path / "cache", force=True)[2] is True and len(hits) == 2
    path.write_text("garbage\n")
    assert D.download("swap-darts1000", tmp_path / "cache")[2] is True and path.read_bytes() == darts_csv


def test_wrong_content_and_http_errors_leave_nothing(tmp_path, server, at):
    url, _ = server
    at(url + "/short.csv")
    with pytest.raises(D.DownloadError, match=r"short.csv sent a file that is not the SWAP DARTS CSV: 3 rows.*"
                                              r"nothing was written to"):
        D.download("swap-darts1000", tmp_path)
    at(url + "/missing.csv")
    with pytest.raises(D.DownloadError, match=r"missing.csv answered HTTP 404.*Copy the file by hand to "):
        D.download("swap-darts1000", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file
    with pytest.raises(D.DownloadError, match="unknown download 'nb999'; known: nas-bench-bert, nbsuite-zero, nbsuite-zero:zc_nasbench101.json, "):
        D.download("nb999", tmp_path)


def test_offline_error_says_so_and_how_to_copy_by_hand(tmp_path, at, monkeypatch):
    at(f"http://127.0.0.1:{closed_port()}/DARTS_archs_CIFAR10.csv")
    with pytest.raises(D.DownloadError) as ei:
        D.download("swap-darts1000", tmp_path)
    msg = str(ei.value)
    assert "is unreachable" in msg and "you seem to be offline" in msg
    assert f"Copy the file by hand to {tmp_path / 'DARTS_archs_CIFAR10.csv'}" in msg and "curl -L -o" in msg
    assert list(tmp_path.iterdir()) == []

    def no_dns(*a, **k):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(D.urllib.request, "urlopen", no_dns)
    at(D.SWAP_DARTS_URL)
    with pytest.raises(D.DownloadError, match=r"raw.githubusercontent.com/pym1024/SWAP.*unreachable "
                                              r"\(\[Errno -3\] Temporary failure in name resolution\); you seem to be offline"):
        D.download("swap-darts1000", tmp_path)

    def slow(*a, **k):
        raise socket.timeout("timed out")

    monkeypatch.setattr(D.urllib.request, "urlopen", slow)
    with pytest.raises(D.DownloadError, match=r"did not answer within 60 s; you may be offline"):
        D.download("swap-darts1000", tmp_path)


def test_cli_download(tmp_path, server, at, capsys, monkeypatch):
    url, _ = server
    monkeypatch.setenv("ZCBENCH_CACHE", str(tmp_path / "default"))
    at(url + "/DARTS_archs_CIFAR10.csv")
    assert main(["download", "swap-darts1000"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'default' / 'DARTS_archs_CIFAR10.csv'}: 1000 DARTS genotypes" in out and "(downloaded)" in out
    assert main(["download", "swap-darts1000"]) == 0 and "(already in the cache)" in capsys.readouterr().out
    assert main(["download", "swap-darts1000", "--cache", str(tmp_path / "other")]) == 0
    assert f"set ZCBENCH_CACHE={tmp_path / 'other'}" in capsys.readouterr().out
    at(f"http://127.0.0.1:{closed_port()}/x.csv")
    assert main(["download", "swap-darts1000", "--cache", str(tmp_path / "third"), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error: cannot download swap-darts1000") and "offline" in err
    with pytest.raises(SystemExit):
        main(["download", "nope"])


def test_cache_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ZCBENCH_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    with pytest.raises(DataNotFoundError) as ei:
        resolve_path("cache:DARTS_archs_CIFAR10.csv")
    msg = str(ei.value)
    assert str(tmp_path / "DARTS_archs_CIFAR10.csv") in msg and "run `zcbench download swap-darts1000`" in msg
    assert "raw.githubusercontent.com/pym1024/SWAP" in msg and "ZCBENCH_CACHE" in msg
    assert isinstance(ei.value, FileNotFoundError)
    (tmp_path / "DARTS_archs_CIFAR10.csv").write_text("x")
    assert resolve_path("cache:DARTS_archs_CIFAR10.csv") == tmp_path / "DARTS_archs_CIFAR10.csv"
    with pytest.raises(DataNotFoundError, match=r"cache:mine.csv: .*does not exist.*put the file there"):
        resolve_path("cache:mine.csv")
    with pytest.raises(DataError, match="expected cache:FILE_NAME"):
        resolve_path("cache:../etc/passwd")
    monkeypatch.delenv("ZCBENCH_CACHE")
    assert cache_dir() == Path("~/.cache/zcbench").expanduser()
    assert resolve_path("~/x.csv") == Path.home() / "x.csv" and resolve_path("embedded:a").name == "a"


def test_darts_configs_use_the_download_cache(tmp_path, server, at, monkeypatch, capsys):
    for name in DARTS_CONFIGS:
        raw = yaml.safe_load((CONFIGS / name).read_text())
        assert raw["ground_truth"]["path"] == "cache:DARTS_archs_CIFAR10.csv", name
    monkeypatch.setenv("ZCBENCH_CACHE", str(tmp_path / "cache"))
    small = ["--set", "archs.n=3", "--set", "seeds=[0]", "--set", "proxies=[params]",
             "--set", "data.source=fashion-mnist-sample", "--no-progress"]
    cfg = str(CONFIGS / "swap_darts1000.yaml")
    assert main(["run", cfg, "--out", str(tmp_path / "o1")] + small) == 2
    assert "run `zcbench download swap-darts1000`" in capsys.readouterr().err
    url, _ = server
    at(url + "/DARTS_archs_CIFAR10.csv")
    assert main(["download", "swap-darts1000"]) == 0
    assert main(["run", cfg, "--out", str(tmp_path / "o2")] + small) == 0
    assert (tmp_path / "o2" / "correlations.csv").is_file()


@pytest.fixture
def zc_server(tmp_path):
    """A local server with two small zc_<space>.json files and a download registry pinned to them."""
    good = b'{"cifar10": {"(0, 1, 2, 3, 4, 1)": {"val_accuracy": 90.0, "params": {"score": 1.0, "time": 0}}}}'
    files = {"/zc_nasbench201.json": good, "/zc_nasbench301.json": good.replace(b"90.0", b"91.0")}
    with serving(files) as url:
        yield url, files


def _pin(monkeypatch, url, files, sha=None):
    import hashlib

    names = []
    for path, body in files.items():
        name = f"nbsuite-zero:{path[1:]}"
        d = dataclasses.replace(D.DOWNLOADS[name], url=url + path, sha256=sha or hashlib.sha256(body).hexdigest())
        monkeypatch.setitem(D.DOWNLOADS, name, d)
        names.append(name)
    monkeypatch.setitem(D.BUNDLES, "nbsuite-zero", (names, D.BUNDLES["nbsuite-zero"][1]))


def test_nbsuite_zero_registry_pins_naslib_commits_and_checksums():
    names, notice = D.BUNDLES["nbsuite-zero"]
    assert len(names) == 5 and "Apache License 2.0" in notice and "automl/NASLib" in notice
    for n in names:
        d = D.DOWNLOADS[n]
        assert d.url.startswith("https://raw.githubusercontent.com/automl/NASLib/") and d.url.endswith("/" + d.filename)
        assert len(d.sha256) == 64 and CACHE_FILES[d.filename][0] == "nbsuite-zero"
    shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nbsuite_zero_prerelease"
    if shared.is_dir():  # the reference copies (not in a user's clone) match the pinned sums
        for n in names:
            d = D.DOWNLOADS[n]
            assert D.sha256_of(shared / d.filename) == d.sha256


def test_download_nbsuite_zero_fetches_every_file_with_notice(tmp_path, zc_server, monkeypatch, capsys):
    url, files = zc_server
    _pin(monkeypatch, url, files)
    assert main(["download", "nbsuite-zero", "--cache", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    for path, body in files.items():
        assert (tmp_path / "c" / path[1:]).read_bytes() == body
    assert "cifar10 (1 entries)" in out and "(downloaded)" in out and "Apache License 2.0" in out
    assert "Apache License 2.0" in (tmp_path / "c" / "nbsuite-zero-NOTICE.txt").read_text()
    assert main(["download", "nbsuite-zero", "--cache", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.count("(already in the cache)") == 2


def test_download_refuses_a_checksum_mismatch(tmp_path, zc_server, monkeypatch, capsys):
    url, files = zc_server
    _pin(monkeypatch, url, files, sha="0" * 64)
    assert main(["download", "nbsuite-zero", "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error: ") and "sha256 is " in err and "expected " + "0" * 64 in err
    assert "nothing was written" in err
    assert not list((tmp_path / "c").iterdir())  # no partial or wrong file, no notice
