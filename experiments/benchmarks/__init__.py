"""Benchmarks: scripts that print a table and write it under results/ (never tests)."""
