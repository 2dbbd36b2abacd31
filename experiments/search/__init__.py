"""``zcbench search``: SWAP-NAS, the evolutionary search of the SWAP paper (Peng et al., ICLR 2024,
Algorithm 1), with a random-search baseline that spends the same number of proxy evaluations, a
ground-truth look-up (or a training with the benchmark's own recipe) of what each search finds,
and the µ sweep of the paper's Fig. 5b.

One job per module, each importing only those above it in this list:

* :mod:`~experiments.search.evolution`: the evolution and the random search, over any space that
  mutates and any score function (the algorithm and its seeds);
* :mod:`~experiments.search.proxy`: the proxy searched with: reading it from the config, scoring
  an architecture as ``zcbench run`` does, and everything particular to reg_swap;
* :mod:`~experiments.search.config`: the search config, its keys and its defaults (with why);
* :mod:`~experiments.search.truth`: the ground truth of what a search finds;
* :mod:`~experiments.search.report`: ``search.md`` and ``trajectory.png``;
* :mod:`~experiments.search.run`: a search from end to end, written after every seed, resumed;
* :mod:`~experiments.search.sweep`: the µ = σ size sweep;
* :mod:`~experiments.search.cli`: the ``zcbench search`` command.
"""
from experiments.search.cli import add_parser, cmd_search
from experiments.search.config import SearchConfig, load_search, parse_search
from experiments.search.evolution import SearchResult, evolve, random_search
from experiments.search.proxy import ProxyScorer, fit_options, theta_net_of
from experiments.search.report import search_markdown
from experiments.search.run import finished_seeds, run_search, search_fingerprint
from experiments.search.sweep import run_size_sweep
from experiments.search.truth import Truth

__all__ = ["ProxyScorer", "SearchConfig", "SearchResult", "Truth", "add_parser", "cmd_search", "evolve",
           "finished_seeds", "load_search", "parse_search", "random_search", "fit_options",
           "run_search", "run_size_sweep", "search_fingerprint", "search_markdown", "theta_net_of"]
