"""Zero-cost proxies: the registry, the probe that shares passes between proxies, and the
proxies themselves. Knows nothing about search spaces.

The proxy modules (``zc_proxies.swap``, ``zc_proxies.tenas``, ...) are imported on the first
lookup of the registry (:data:`PROXIES`), not with this package, so a package that needs only
the registry does not load them."""
from zc_proxies.base import (PROXIES, ProxyInfo, get_network_proxy, get_proxy, list_proxies,  # noqa: F401
                             register_proxy)
from zc_proxies.population import (Base, Combined, Population, PopulationProxyInfo,  # noqa: F401
                                   register_population_proxy)
from zc_proxies.probe import Probe, ProxyResult, register_signal, score  # noqa: F401


def __getattr__(name: str):
    """``zc_proxies.swap`` and the other modules as attributes, imported when first asked for."""
    import importlib.util

    if not name.startswith("_") and importlib.util.find_spec(f"zc_proxies.{name}") is not None:
        return importlib.import_module(f"zc_proxies.{name}")
    raise AttributeError(f"module 'zc_proxies' has no attribute {name!r}")
