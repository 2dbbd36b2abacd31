"""The Ray executor on a local Ray cluster this module starts (two CPUs) and ends: the same
stored rows as a local run, every result once when a worker process dies mid-study, errors
raised as themselves, and what `--executor ray` says without Ray installed."""
import builtins
import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.config import ConfigError, load_study
from experiments.executors import ExecutorError, RayExecutor, make_executor
from experiments.runner import executor_of
from tests.test_executors import _slow_study
from tests.test_runner import darts_study
from tests.waiting import stored_rows, wait_until

try:
    import ray
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason="Ray is an optional extra (pip install 'zcbench[ray]'); not installed")
ROWS = "SELECT scoring, seed, arch, proxy, value, status FROM scores ORDER BY scoring, seed, arch, proxy"


@pytest.fixture(scope="module")
def cluster():
    if ray is None:
        pytest.skip("Ray is an optional extra (pip install 'zcbench[ray]'); not installed")
    # one GPU as a logical resource (Ray schedules by resources; nothing here uses CUDA)
    from experiments.executors import loopback_only

    loopback_only(ray)
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, logging_level="WARNING")
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}  # nothing leaves loopback
    yield ray
    ray.shutdown()


def _square(x):
    return x * x


def _threads_seen(_):
    import torch

    return torch.get_num_threads()


def _dies_once(task):
    """Kills its own worker process (SIGKILL) the first time it sees task 3; a marker file
    records the pid that died, so the task's next run returns."""
    marker, i = task
    if i == 3 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return i * i, os.getpid()


def _gpus_seen(_):
    import ray

    return ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


def _fails(x):
    if x == 2:
        raise ConfigError("task 2 has a bad option")
    return x


def rows(out):
    return sqlite3.connect(Path(out) / "results.sqlite").execute(ROWS).fetchall()


@needs_ray
def test_ray_map_gives_every_result_once_with_one_torch_thread(cluster):
    with make_executor(kind="ray") as ex:
        assert isinstance(ex, RayExecutor) and ex.parallelism == 2
        assert dict(ex.map(_square, list(range(9)))) == {i: i * i for i in range(9)}
        assert set(dict(ex.map(_threads_seen, [0, 1, 2, 3])).values()) == {1}
    assert cluster.is_initialized()  # a cluster this process was already on is left running


@needs_ray
def test_a_task_whose_worker_dies_runs_again(cluster, tmp_path):
    marker = str(tmp_path / "died")
    with RayExecutor() as ex:
        got = dict(ex.map(_dies_once, [(marker, i) for i in range(6)]))
    assert {i: v for i, (v, _) in got.items()} == {i: i * i for i in range(6)}
    assert got[3][1] != int(Path(marker).read_text())  # task 3 ran again in another process


@needs_ray
def test_a_task_lost_after_rays_retries_is_submitted_again(cluster, tmp_path, capsys):
    with RayExecutor(max_retries=0) as ex:
        got = dict(ex.map(_dies_once, [(str(tmp_path / "died"), i) for i in range(5)]))
    assert {i: v for i, (v, _) in got.items()} == {i: i * i for i in range(5)}
    assert "a Ray task was lost (WorkerCrashedError); submitting it again" in capsys.readouterr().err
    with RayExecutor(max_retries=0, resubmits=0) as ex:
        with pytest.raises(ExecutorError, match="task 3 was lost 1 times.*run the same command again"):
            dict(ex.map(_dies_once, [(str(tmp_path / "died2"), i) for i in range(5)]))


@needs_ray
def test_a_cuda_device_reserves_one_gpu_per_task(cluster, monkeypatch):
    with RayExecutor(device="cuda") as ex:
        assert ex.parallelism == 1  # two CPUs, one GPU
        assert dict(ex.map(_gpus_seen, [0, 1, 2])) == {i: ([0], "0") for i in range(3)}
    with RayExecutor(device="cpu") as ex:
        assert ex.parallelism == 2
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    with pytest.raises(ExecutorError, match="the Ray cluster has no GPU for a CUDA device"):
        RayExecutor(device="cuda:0")


@needs_ray
def test_an_error_in_a_task_is_raised_as_itself(cluster):
    with RayExecutor() as ex:
        with pytest.raises(ConfigError, match="task 2 has a bad option"):
            dict(ex.map(_fails, [0, 1, 2, 3]))


@needs_ray
def test_a_study_on_ray_stores_the_rows_of_a_local_run(cluster, tmp_path):
    cfg = darts_study(tmp_path, n=8)
    assert main(["run", str(cfg), "--out", str(tmp_path / "local"), "--no-progress"]) == 0
    assert main(["run", str(cfg), "--out", str(tmp_path / "ray"), "--no-progress", "--executor", "ray"]) == 0
    assert rows(tmp_path / "ray") == rows(tmp_path / "local") and len(rows(tmp_path / "local")) == 8 * 2 * 3
    # (swap, sap and params per architecture and seed; reg_swap is derived at report time)
    for name in ("correlations.csv", "summary.md"):
        assert (tmp_path / "ray" / name).read_text() == (tmp_path / "local" / name).read_text()
    # the config's executor section, and resuming a run from one executor on another
    assert main(["compare", str(cfg), "--proxy", "synflow", "--baselines", "sap", "params", "--no-progress",
                 "--out", str(tmp_path / "ray"), "--set", "executor.kind=ray"]) == 0
    assert main(["compare", str(cfg), "--proxy", "synflow", "--baselines", "sap", "params", "--no-progress",
                 "--out", str(tmp_path / "local")]) == 0
    assert rows(tmp_path / "ray") == rows(tmp_path / "local") and len(rows(tmp_path / "local")) == 8 * 2 * 4  # + synflow


def _busy_ray_workers():
    """Pids of Ray worker processes running a zcbench task now (Ray titles them by task)."""
    pids = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and (p / "cmdline").read_bytes().startswith(b"ray::zcbench.score_chunk"):
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


@needs_ray
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc to find Ray's workers")
def test_a_worker_killed_mid_study_loses_and_repeats_nothing(cluster, tmp_path):
    cfg = _slow_study(tmp_path, n=40)
    db = tmp_path / "ray" / "results.sqlite"
    killed, done = {}, threading.Event()

    def killer():  # kills a busy worker once some rows are stored (the main thread runs the study)
        def kill_one():
            if killed or done.is_set() or not stored_rows(db):
                return killed or done.is_set()
            busy = _busy_ray_workers()
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.update(pid=busy[0], stored=stored_rows(db))
            return killed

        wait_until(kill_one, "a busy Ray worker to kill")

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        assert main(["run", str(cfg), "--out", str(tmp_path / "ray"), "--no-progress", "--executor", "ray"]) == 0
    finally:
        done.set()
        t.join()
    assert killed and killed["stored"] < 40 * 4, "the run ended before a worker was killed"
    assert main(["run", str(cfg), "--out", str(tmp_path / "local"), "--no-progress"]) == 0
    got = rows(tmp_path / "ray")
    assert len(got) == len({r[:4] for r in got}) == 40 * 4  # every (arch, proxy) once
    assert got == rows(tmp_path / "local")
    assert (tmp_path / "ray" / "correlations.csv").read_text() == (tmp_path / "local" / "correlations.csv").read_text()


def test_without_ray_the_cli_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    real = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    cfg, out = darts_study(tmp_path, n=4), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error: --executor ray needs Ray, which is not installed here")
    assert "pip install 'zcbench[ray]'" in err and "Traceback" not in err
    assert not (out / "results.sqlite").exists()  # a failed start leaves no empty store


def test_executor_config_keys_and_flags(tmp_path, capsys):
    cfg = darts_study(tmp_path, n=4)
    study = load_study(cfg)
    assert executor_of(study) == ("local", None)
    assert executor_of(study, address="head:6379") == ("ray", "head:6379")
    study = load_study(cfg, ["executor.address=head:6379"])
    assert executor_of(study) == ("ray", "head:6379")
    assert executor_of(study, "local") == ("local", None)  # --executor local leaves the cluster aside
    from experiments.plan import scoring_of

    assert scoring_of(load_study(cfg, ["executor.kind=ray"])) == scoring_of(load_study(cfg))
    with pytest.raises(ConfigError, match="executor.kind must be 'local' or 'ray'"):
        load_study(cfg, ["executor.kind=slurm"])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['nodes'\] in 'executor'"):
        load_study(cfg, ["executor.nodes=4"])
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress", "--executor", "local",
                 "--address", "head:6379"]) == 2
    assert "an address (head:6379) is for --executor ray" in capsys.readouterr().err


@needs_ray
def test_a_cluster_that_cannot_be_reached_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as a process not yet on a cluster
    with pytest.raises(ExecutorError, match=r"cannot connect to the Ray cluster at 127.0.0.1:1: nothing answers at "
                                            r"127.0.0.1:1.*ray start --head.*RAY_AUTH_MODE=token"):
        RayExecutor(address="127.0.0.1:1")  # a port nothing listens on: fails at once, not after Ray's retries

    def refuse(**kw):
        raise ConnectionError(f"Failed to connect to Ray cluster at {kw['address']}")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr("experiments.executors._check_reachable", lambda address: None)
    cfg, out = darts_study(tmp_path, n=4), tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress", "--address", "head:6379"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zcbench: error: cannot connect to the Ray cluster at head:6379: Failed to connect")
    assert not (out / "results.sqlite").exists()
