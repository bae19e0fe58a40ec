"""Two tenants over capacity: pHost's tenant-fair policy shares the network
more evenly than pFabric's SRPT (issue 3's qualitative check, at small scale
with a fixed seed)."""

import pandas as pd

import ddclab
from ddclab.experiments.phost import scenario
from ddclab.sweep import tenant_throughput


def imc10_share(protocol: str, **extra) -> float:
    r = ddclab.simulate(scenario(protocol, flows=6000, load=1.2, **{"workload.tenant_sizes": ["imc10", "websearch"], **extra}))
    assert r.flows["completed"].all()
    # The engine's delivered-bytes series ends at every flow's full size.
    last = r.tenants[r.tenants["time_us"] == r.tenants["time_us"].max()].set_index("tenant")["delivered_bytes"]
    assert (last >= r.flows.groupby("tenant")["size_bytes"].sum()).all()
    t = pd.DataFrame(tenant_throughput(r.tenants, r.flows)).groupby("tenant")["gbps"].sum()
    return t[0] / t.sum()


def test_phost_tenant_fair_is_fairer_than_pfabric():
    pf = imc10_share("pfabric")
    ph = imc10_share("phost", **{"transport.phost_policy": "tenant-fair"})
    # SRPT favours the tenant with small flows; tenant-fair pulls towards 0.5.
    assert pf > 0.5
    assert abs(ph - 0.5) < abs(pf - 0.5) - 0.05, (ph, pf)
