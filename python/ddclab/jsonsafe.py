"""Values made strict-JSON-safe: NaN and infinities become null.

Results carry NaN for "no value" (a flow that never finished has no
slowdown), which `json.dumps` would write as the non-standard `NaN`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping


def json_safe(v: Any) -> Any:
    """``v`` with every non-finite float, at any depth of mappings, lists and tuples, replaced by None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v
