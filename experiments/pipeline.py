"""A run from end to end: score a suite into its store (:mod:`experiments.runner`), then write
the reports next to it (:mod:`experiments.report`). The one module that calls both, so that
neither the runner nor the reports import the other."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.config import Study, Suite
from experiments.runner import score_suite
from experiments.store import Store


def run_suite(suite: Suite, out: str | Path, *, progress: bool = True, workers: int | None = 1,
              threads: int | None = None, parquet: bool = False, executor: str | None = None,
              address: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Score every study of ``suite`` into ``out/results.sqlite`` (what one study scored is not
    scored again for another) and write the combined reports next to it. A run that fails
    before anything is stored leaves no empty store behind."""
    from experiments.report import write_reports

    out = Path(out)
    path = out / "results.sqlite"
    new = not path.exists()
    with Store(path) as store:
        try:
            score_suite(suite, store, progress=progress, workers=workers, threads=threads, executor=executor,
                        address=address, device=device)
        except BaseException:
            if new:
                store.remove_if_empty()
            raise
        return write_reports(suite, store, out, parquet=parquet)


def run_study(study: Study, out: str | Path, *, progress: bool = True, workers: int = 1,
              threads: int | None = None) -> dict[str, Any]:
    """Score ``study`` into ``out/results.sqlite`` and write the reports next to it."""
    return run_suite(Suite(study.name, [study], {}), out, progress=progress, workers=workers, threads=threads)
