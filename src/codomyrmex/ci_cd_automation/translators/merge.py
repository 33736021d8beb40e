"""The one deep merge (hatches, ``extends``, ``include``): mappings merge, the rest is replaced.

Replaced values are copied, so a merged document never shares mutable parts with its inputs.
"""

from __future__ import annotations

import copy
from typing import Any


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` merged onto ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)
