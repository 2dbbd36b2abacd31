"""zcbench's defaults against the reference implementations: NB-Suite-Zero's own zc_<space>.json
files (params and flops of every architecture) and NASLib's / TE-NAS's / ZiCo's values on 20 NB201
networks (../shared/data; skipped without it). The same functions write
results/reference_agreement.md (python -m experiments.benchmarks.reference_agreement)."""
import pytest

from experiments.benchmarks.reference_agreement import (FLOAT32, proxy_agreement, reference_values,
                                                        size_agreement)
from tests.conftest import SHARED

ZC = SHARED / "nbsuite_zero_prerelease"
REF = SHARED / "reference_values"
#: (file, dataset or task) pairs of the pre-release files
EXPECTED_ROWS = 3 + 1 + 1 + 7 + 7


def needs(path):
    if not path.is_dir():
        pytest.skip(f"needs ../shared/data (reference data beside the project), absent: {path}")


@pytest.mark.slow
def test_params_and_flops_equal_every_nbsuite_zero_file():
    """Every architecture of every dataset/task of the five files: zcbench's params and flops
    (default counter: naslib) of the space's network equal the file's within 1e-6 relative. This
    pins the key decoding (NB301's pre-release list keys, NB101's nesting and vertex order) and
    every builder."""
    needs(ZC)
    rows = size_agreement(SHARED)
    assert len(rows) == EXPECTED_ROWS
    assert sum(r.n for r in rows) == 3 * 725 - 1 + 725 + 500 + 7 * 711 + 2 * 662 + 5 * 725
    for r in rows:
        assert r.n > 0 and r.params_equal == r.n and r.flops_equal == r.n, (r.file, r.dataset, r.worst)


@pytest.fixture(scope="module")
def proxy_rows():
    needs(REF)
    return proxy_agreement(SHARED)


@pytest.mark.slow
def test_every_default_equals_the_reference_values(proxy_rows):
    """Defaults within 1e-6 relative (1e-4 where the reference uses a float32 eigensolver or
    float32 numpy: ntk, zico); ``accumulate: float32`` bit for bit where it exists (ntk: within
    1e-4, float32 eigensolvers differ by library build)."""
    refs = reference_values(SHARED)
    assert {r.proxy for r in proxy_rows} == {r["proxy"] for r in refs}
    assert sum(r.n for r in proxy_rows if not r.options) == len(refs)
    for r in proxy_rows:
        assert r.ok, (r.proxy, r.options, r.reference, r.max_rel, r.worst)
    float32 = [r for r in proxy_rows if r.options]
    assert {r.proxy for r in float32} == set(FLOAT32)
    assert all(r.exact == r.n for r in float32 if r.proxy != "ntk")
