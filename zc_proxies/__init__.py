"""Zero-cost proxies: the registry, the probe that shares passes between proxies, and the
proxies themselves. Knows nothing about search spaces."""
from zc_proxies.base import PROXIES, ProxyInfo, get_proxy, list_proxies, register_proxy  # noqa: F401
from zc_proxies.probe import Probe, ProxyResult, register_signal, score  # noqa: F401
from zc_proxies import swap, size, gradients, jacobian, nwot, zen, tenas, lswag, ensembles, aznas, meco, gradsign  # noqa: F401,E402  (registration on import)
