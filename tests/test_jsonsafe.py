import json
import math

import numpy as np

from ddclab.jsonsafe import json_safe


def test_non_finite_floats_become_null_at_any_depth():
    v = {"a": [math.nan, 1.5, (math.inf, {"b": -math.inf})], "c": np.float64("nan"), "d": "nan", "e": 3}
    assert json_safe(v) == {"a": [None, 1.5, [None, {"b": None}]], "c": None, "d": "nan", "e": 3}
    json.dumps(json_safe(v), allow_nan=False)  # strict JSON
