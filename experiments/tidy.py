"""The rules every table over the tidy scores frame shares: which scores enter a statistic, and
how a proxy's label is printed. Below :mod:`experiments.frames` and :mod:`experiments.topk`,
which both use them."""
from __future__ import annotations

import numpy as np
import pandas as pd

import zc_proxies


def proxy_title(label: str, proxy: str) -> str:
    """The label as tables print it: lower-is-better proxies say so."""
    info = zc_proxies.get_proxy(proxy)
    return label if info.higher_is_better else f"{label} (lower is better)"


def usable(frame: pd.DataFrame) -> pd.Series:
    """The one place that decides which scores enter a correlation: stored as ``ok`` and finite,
    with a finite ground-truth value. Non-finite and failed scores are left out and counted;
    with ``nonfinite: naslib`` a non-finite score carries NASLib's replacement value (see
    :func:`collect`), so it enters, and is still counted as non-finite."""
    return (frame["status"].isin(["ok", "nonfinite"]) & np.isfinite(frame["value"])
            & np.isfinite(frame["truth"]))


def label_of(col, lab: str) -> str:
    """The title of label ``lab`` of ``col`` (an :class:`experiments.frames.Column`; scored or
    derived), as tables print it."""
    spec = next((s for s in col.plan.scored if s.label == lab), None) or next(s for s, _ in col.plan.derived
                                                                             if s.label == lab)
    return proxy_title(lab, spec.proxy)
