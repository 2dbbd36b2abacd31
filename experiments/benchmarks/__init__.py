"""Benchmarks: scripts that print a table and write it to ``--out``.

By default the table goes to ``./zcbench-out/<benchmark>.md``; the committed reference tables in
``results/`` change only when ``--out results/<benchmark>.md`` is given. Each benchmark runs
with one torch thread per process (what a study's workers use), so a loaded machine's other
threads do not decide the ratios.
"""
from pathlib import Path

OUT_DIR = Path("zcbench-out")


def add_out_argument(ap, name: str) -> None:
    """``--out FILE`` (default ``./zcbench-out/<name>.md``, never the committed ``results/`` table)."""
    ap.add_argument("--out", default=str(OUT_DIR / f"{name}.md"),
                    help=f"the table to write (default: {OUT_DIR / (name + '.md')}; "
                         f"--out results/{name}.md updates the committed reference table)")


def publish(text: str, path: str | Path) -> None:
    """Print a benchmark's table and write it to ``path``."""
    print("\n" + text)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    print(f"wrote {path}")


def reference_batch():
    """The batch the references saw: the first 64 Fashion-MNIST training images at 32 x 32."""
    from search_spaces.data import load_batch

    return load_batch("fashion-mnist", 64, size=32, split="train", pick="first")


def progress_bar(items, on: bool, desc: str):
    """``items`` with a progress bar on stderr when ``on``."""
    if not on:
        return items
    import sys

    from tqdm import tqdm

    return tqdm(items, desc=desc, file=sys.stderr, dynamic_ncols=True)
