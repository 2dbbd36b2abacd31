"""The conformance check of proxies, kept under this name for existing imports
(``from zc_proxies.testing import check_proxy``): it builds networks of every search space, so
it lives in :mod:`experiments.conformance`, above both packages. Import it from there."""
from experiments.conformance import CaseResult, CheckReport, ConformanceError, check_proxy  # noqa: F401
