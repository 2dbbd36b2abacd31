"""Benchmarks: scripts that print a table and write it under results/ (never tests)."""
from pathlib import Path


def publish(text: str, path: str | Path) -> None:
    """Print a benchmark's table and write it to ``path``."""
    print("\n" + text)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
