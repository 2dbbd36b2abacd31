"""Executors and the store's faults: threads, workers that die with their parent, a fast
Ctrl-C, the --out lock, damaged stores, unwritable folders, no empty store after a failed start."""
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from experiments.cli import main
from experiments.executors import InProcess, LocalPool, default_threads, make_executor
from experiments.store import Store, StoreError
from search_spaces.base import get_space
from tests.test_runner import darts_study, write_gt
from tests.waiting import HANG, stored_rows, wait_until

ROOT = Path(__file__).resolve().parents[1]


def _square(x):
    return x * x


def _threads_seen(_):
    return torch.get_num_threads()


def test_in_process_and_pool_give_every_result_once():
    tasks = list(range(7))
    got = dict(InProcess().map(_square, tasks))
    assert got == {i: i * i for i in tasks}
    with make_executor(2) as ex:
        assert isinstance(ex, LocalPool) and ex.parallelism == 2
        assert dict(ex.map(_square, tasks)) == got


def test_one_torch_thread_per_process_by_default(monkeypatch):
    monkeypatch.delenv("ZCBENCH_THREADS", raising=False)
    assert default_threads() == 1
    torch.set_num_threads(2)
    try:
        assert dict(InProcess().map(_threads_seen, [0])) == {0: 1}
        assert torch.get_num_threads() == 2  # restored for the caller
        with make_executor(2) as ex:
            assert set(dict(ex.map(_threads_seen, [0, 1, 2])).values()) == {1}
        monkeypatch.setenv("ZCBENCH_THREADS", "3")
        assert dict(InProcess().map(_threads_seen, [0])) == {0: 3}
        monkeypatch.setenv("ZCBENCH_THREADS", "many")
        with pytest.raises(ValueError, match="ZCBENCH_THREADS"):
            default_threads()
    finally:
        torch.set_num_threads(1)


def test_one_worker_equals_two_even_when_torch_had_more_threads(tmp_path):
    """`zcbench run` scores with one thread per process whatever torch was set to, so one worker
    and two give the same scores bit for bit."""
    cfg = darts_study(tmp_path, n=10)
    torch.set_num_threads(2)
    try:
        assert main(["run", str(cfg), "--out", str(tmp_path / "one"), "--no-progress"]) == 0
    finally:
        torch.set_num_threads(1)
    assert main(["run", str(cfg), "--out", str(tmp_path / "two"), "--no-progress", "--workers", "2"]) == 0
    q = "SELECT scoring, seed, arch, proxy, value, status FROM scores ORDER BY scoring, seed, arch, proxy"
    assert (sqlite3.connect(tmp_path / "one" / "results.sqlite").execute(q).fetchall()
            == sqlite3.connect(tmp_path / "two" / "results.sqlite").execute(q).fetchall())


SLOW_N = 400  # architectures of the interrupted study


def _slow_study(tmp_path, n=SLOW_N):
    space = get_space("nb201", C=4, N=1)
    gt = tmp_path / "gt.csv"
    write_gt(gt, space, space.sample(n, seed=5), np.random.default_rng(1))
    raw = {"name": "slow", "space": "nb201", "space_options": {"C": 4, "N": 1}, "task": "cifar10",
           "data": {"source": "noise", "batch_size": 16, "size": 16}, "ground_truth": {"path": str(gt)},
           "archs": {"from": "ground_truth", "n": None}, "seeds": [0], "proxies": ["swap", "sap", "params", "synflow"]}
    cfg = tmp_path / "slow.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    return cfg


def _start(tmp_path, cfg, out, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "experiments.cli", "run", str(cfg), "--no-progress", "--out", str(out), *extra]
    # SIGINT as in a terminal's foreground job: a test run from a background job (`cmd &` in a
    # script) would hand the ignored SIGINT down to the child, which would then never stop on it
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_rows(proc, db_path, rows):
    """Until the running study has stored ``rows`` rows; fails if it ends first."""
    def stored_or_ended():
        if proc.poll() is not None:
            raise AssertionError("the run ended before it was interrupted: " + proc.stderr.read().decode()[-2000:])
        return stored_rows(db_path) >= rows

    wait_until(stored_or_ended, f"{rows} rows stored")


def _children(pid):
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the worker processes")
def test_kill_9_of_the_parent_ends_its_workers(tmp_path):
    out = tmp_path / "out"
    proc = _start(tmp_path, _slow_study(tmp_path), out, "--workers", "2")
    _wait_for_rows(proc, out / "results.sqlite", 8)
    kids = _children(proc.pid)
    assert len(kids) >= 2  # two workers (and the resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_until(lambda: not any(_alive(k) for k in kids), "the workers ending after their parent was killed")


def test_ctrl_c_stops_the_workers_at_once_and_keeps_what_is_stored(tmp_path):
    out = tmp_path / "out"
    proc = _start(tmp_path, _slow_study(tmp_path), out, "--workers", "2")
    _wait_for_rows(proc, out / "results.sqlite", 8)
    kids = _children(proc.pid) if Path("/proc/self/task").is_dir() else []
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    proc.wait(timeout=HANG)  # no bound on how fast: "at once" is what follows
    err = proc.stderr.read().decode()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    stored = stored_rows(out / "results.sqlite")
    assert 0 < stored < SLOW_N * 4 and stored % 4 == 0  # stopped mid-study, whole architectures kept
    wait_until(lambda: not any(_alive(k) for k in kids), "the workers ending with the interrupted run")


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, capsys):
    cfg, out = darts_study(tmp_path, n=6), tmp_path / "out"
    with Store(out / "results.sqlite"):
        assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"another zcbench process (pid {os.getpid()}) is writing to" in err and "another --out" in err
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0  # the lock went with its holder


def _damage(path: Path, how: str) -> None:
    if how == "text":
        path.write_text("arch,accuracy\nnot a database\n")
        return
    if how == "random":
        path.write_bytes(np.random.default_rng(0).bytes(8192))
        return
    with Store(path) as st:  # a real store with some rows, then damaged
        st.db.executemany("INSERT INTO meta VALUES (?, ?)", [(f"k{i}", '"' + "x" * 500 + '"') for i in range(200)])
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 3]))
    else:  # garbage pages: overwrite the second page onwards
        data[4096:4096 * 3] = np.random.default_rng(1).bytes(4096 * 2)
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["random", "truncated", "garbage", "text"])
def test_a_damaged_store_is_a_clear_error_for_run_and_reg_grid(tmp_path, capsys, how):
    cfg, out = darts_study(tmp_path, n=6), tmp_path / "out"
    out.mkdir()
    _damage(out / "results.sqlite", how)
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error: ") and "not a readable zcbench results store" in err
    assert "Move it away" in err and "Traceback" not in err
    assert main(["reg-grid", str(out), "--mu", "1", "--sigma", "1"]) == 2
    assert "not a readable zcbench results store" in capsys.readouterr().err


def test_an_unwritable_out_folder_is_a_clear_error(tmp_path, capsys, monkeypatch):
    cfg = darts_study(tmp_path, n=6)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["run", str(cfg), "--out", str(afile / "sub"), "--no-progress"]) == 2
    assert "cannot create the results store" in capsys.readouterr().err

    real = sqlite3.connect

    def readonly(*a, **k):  # what SQLite says in a read-only folder (root ignores file modes)
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(sqlite3, "connect", readonly)
    assert main(["run", str(cfg), "--out", str(tmp_path / "ro"), "--no-progress"]) == 2
    monkeypatch.setattr(sqlite3, "connect", real)
    assert "choose a writable --out folder" in capsys.readouterr().err


def test_a_failed_start_leaves_no_empty_store(tmp_path, capsys):
    cfg = darts_study(tmp_path, n=6)
    raw = yaml.safe_load(cfg.read_text())
    raw["ground_truth"]["path"] = str(tmp_path / "missing.csv")
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert not (out / "results.sqlite").exists() and not list(out.glob("results.sqlite*"))


def test_reg_grid_without_a_store_or_config_says_what_to_do(tmp_path, capsys):
    assert main(["reg-grid", str(tmp_path), "--mu", "1", "--sigma", "1"]) == 2
    assert "no results at" in capsys.readouterr().err
    with Store(tmp_path / "results.sqlite"):
        pass
    assert main(["reg-grid", str(tmp_path), "--mu", "1", "--sigma", "1"]) == 2
    assert "holds no scores of a study" in capsys.readouterr().err


def test_store_write_false_does_not_lock(tmp_path):
    with Store(tmp_path / "results.sqlite"):
        with Store(tmp_path / "results.sqlite", write=False) as ro:
            assert ro.count() == 0
        with pytest.raises(StoreError, match="another zcbench process"):
            Store(tmp_path / "results.sqlite")
