"""Convert the shim's binary traces (layout: crates/memu/src/trace.rs) to Parquet.

Columns: ts_ns (since the process started emulation), pid, page (virtual page
number), pages, kind ('read' = remote->local, 'write' = write-back), batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAGIC = 0x3143_5254_554D_4444
HEADER_WORDS = 8
RECORD = np.dtype([("ts_ns", "<u8"), ("page", "<u8"), ("pages", "<u4"), ("kind", "u1"), ("pad", "V3"), ("batch", "<u8")])


def read(path: Path):
    """Return (records ndarray, pid, dropped)."""
    raw = np.fromfile(path, dtype="<u8", count=HEADER_WORDS)
    if len(raw) < HEADER_WORDS or raw[0] != MAGIC:
        raise ValueError(f"{path}: not a ddclab-memu trace")
    capacity, count, dropped, pid = int(raw[3]), int(raw[4]), int(raw[5]), int(raw[6])
    n = min(count, capacity)
    rec = np.fromfile(path, dtype=RECORD, count=n, offset=HEADER_WORDS * 8)
    return rec, pid, dropped


def to_table(paths: list[Path]):
    import pyarrow as pa

    cols = {"ts_ns": [], "pid": [], "page": [], "pages": [], "kind": [], "batch": []}
    dropped = 0
    for p in paths:
        rec, pid, d = read(p)
        dropped += d
        cols["ts_ns"].append(rec["ts_ns"])
        cols["pid"].append(np.full(len(rec), pid, dtype=np.uint32))
        cols["page"].append(rec["page"])
        cols["pages"].append(rec["pages"])
        cols["kind"].append(np.where(rec["kind"] == 1, "write", "read"))
        cols["batch"].append(rec["batch"])
    if paths:
        arrays = {k: np.concatenate(v) for k, v in cols.items()}
    else:
        arrays = {"ts_ns": np.zeros(0, "u8"), "pid": np.zeros(0, "u4"), "page": np.zeros(0, "u8"),
                  "pages": np.zeros(0, "u4"), "kind": np.zeros(0, "U5"), "batch": np.zeros(0, "u8")}
    order = np.lexsort((arrays["ts_ns"], arrays["pid"]))
    table = pa.table({
        "ts_ns": pa.array(arrays["ts_ns"][order], pa.uint64()),
        "pid": pa.array(arrays["pid"][order], pa.uint32()),
        "page": pa.array(arrays["page"][order], pa.uint64()),
        "pages": pa.array(arrays["pages"][order], pa.uint32()),
        "kind": pa.array(arrays["kind"][order].astype(str), pa.string()).dictionary_encode(),
        "batch": pa.array(arrays["batch"][order], pa.uint64()),
    })
    return table, dropped


def write_parquet(trace_dir: Path, out: Path) -> tuple[int, int]:
    """Write all traces of a run to one Parquet file atomically; returns (rows, dropped)."""
    import pyarrow.parquet as pq

    from ..atomic import write_with

    table, dropped = to_table(sorted(trace_dir.glob("*.trace")))
    write_with(out, lambda tmp: pq.write_table(table, tmp))
    return table.num_rows, dropped
