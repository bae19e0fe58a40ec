//! Python bindings of the ddclab simulator: thin wrappers only. Parsing,
//! validation and every computation live in `ddclab-sim`; this file converts
//! between Python objects and the crate's types.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use ddclab_sim::engine::Progress;
use ddclab_sim::flow::FlowSpec;
use ddclab_sim::ids::HostId;
use ddclab_sim::metrics::SlowdownStats;
use ddclab_sim::units::Picos;
use ddclab_sim::workload::MAX_TENANTS;
use ddclab_sim::{Scenario, SimError, Simulation};

create_exception!(
    _core,
    ScenarioError,
    PyValueError,
    "A scenario, CDF or trace the simulator cannot use."
);

fn err(e: SimError) -> PyErr {
    ScenarioError::new_err(e.to_string())
}

/// Read an optional column of a trace dict as a vector.
fn column<'py, T: FromPyObject<'py>>(
    trace: &Bound<'py, PyDict>,
    name: &str,
) -> PyResult<Option<Vec<T>>> {
    match trace.get_item(name)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => Ok(Some(v.extract()?)),
    }
}

fn trace_flows(trace: &Bound<'_, PyDict>, hosts: u32) -> PyResult<Vec<FlowSpec>> {
    let need = |name: &str| ScenarioError::new_err(format!("trace: missing column {name:?}"));
    let start: Vec<f64> = column(trace, "start_us")?.ok_or_else(|| need("start_us"))?;
    let src: Vec<i64> = column(trace, "src")?.ok_or_else(|| need("src"))?;
    let dst: Vec<i64> = column(trace, "dst")?.ok_or_else(|| need("dst"))?;
    let size: Vec<i64> = column(trace, "size")?.ok_or_else(|| need("size"))?;
    let tenant: Option<Vec<i64>> = column(trace, "tenant")?;
    let deadline: Option<Vec<f64>> = column(trace, "deadline_us")?;
    let priority: Option<Vec<i64>> = column(trace, "priority")?;
    let rows: Vec<i64> =
        column(trace, "row")?.unwrap_or_else(|| (1..=start.len() as i64).collect());
    let file: String = match trace.get_item("file")? {
        Some(f) if !f.is_none() => format!("trace file {}", f.extract::<String>()?),
        _ => "trace".to_string(),
    };
    let unit: String = match trace.get_item("row_unit")? {
        Some(u) if !u.is_none() => u.extract()?,
        _ => "row".to_string(),
    };
    let n = start.len();
    if [src.len(), dst.len(), size.len()].iter().any(|&l| l != n) {
        return Err(ScenarioError::new_err(
            "trace: columns have different lengths",
        ));
    }
    let mut flows = Vec::with_capacity(n);
    for i in 0..n {
        let row = rows.get(i).copied().unwrap_or(i as i64 + 1);
        let bad = |what: String| ScenarioError::new_err(format!("{file} {unit} {row}: {what}"));
        // Times must fit 64-bit picoseconds (about 213 days).
        const MAX_US: f64 = 1.8e13;
        if !(start[i].is_finite() && start[i] >= 0.0 && start[i] <= MAX_US) {
            return Err(bad(format!(
                "start_us {} must be a number in [0, {MAX_US:e}]",
                start[i]
            )));
        }
        if src[i] < 0 || dst[i] < 0 || src[i] > u32::MAX as i64 || dst[i] > u32::MAX as i64 {
            return Err(bad("src and dst must be host numbers >= 0".into()));
        }
        if src[i] >= hosts as i64 || dst[i] >= hosts as i64 {
            return Err(bad(format!(
                "host {} is out of range: the topology has hosts 0..{}",
                src[i].max(dst[i]),
                hosts - 1
            )));
        }
        if src[i] == dst[i] {
            return Err(bad(format!("src and dst are both host {}", src[i])));
        }
        if size[i] <= 0 {
            return Err(bad(format!("size {} must be at least 1 byte", size[i])));
        }
        let t = tenant.as_ref().map_or(0, |t| t[i]);
        if !(0..MAX_TENANTS as i64).contains(&t) {
            return Err(bad(format!(
                "tenant {t} is out of range (tenants are numbered 0..{})",
                MAX_TENANTS - 1
            )));
        }
        let d = deadline.as_ref().map(|d| d[i]).filter(|d| !d.is_nan());
        if let Some(d) = d {
            if !(d > 0.0 && d <= MAX_US) {
                return Err(bad(format!("deadline_us {d} must be in (0, {MAX_US:e}]")));
            }
        }
        flows.push(FlowSpec {
            src: HostId(src[i] as u32),
            dst: HostId(dst[i] as u32),
            size: size[i] as u64,
            start: Picos::from_us_f64(start[i]),
            tenant: t as u32,
            deadline: d.map(Picos::from_us_f64),
            priority: priority.as_ref().map_or(0, |p| p[i].max(0) as u32),
        });
    }
    Ok(flows)
}

fn stats_dict<'py>(py: Python<'py>, s: &SlowdownStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("count", s.count)?;
    d.set_item("completed", s.completed)?;
    d.set_item("mean_slowdown", s.mean)?;
    d.set_item("median_slowdown", s.median)?;
    d.set_item("p99_slowdown", s.p99)?;
    d.set_item("p999_slowdown", s.p999)?;
    d.set_item("normalized_fct", s.normalized_fct)?;
    d.set_item("mean_fct_us", s.mean_fct_us)?;
    Ok(d)
}

/// Parse and validate a scenario; returns the list of warnings.
#[pyfunction]
#[pyo3(signature = (text, source, overrides=Vec::new()))]
fn check_scenario(text: &str, source: &str, overrides: Vec<String>) -> PyResult<Vec<String>> {
    let (_, warnings) = Scenario::from_toml(text, source, &overrides).map_err(err)?;
    Ok(warnings)
}

/// Run a scenario. `trace` (a dict of columns) supplies the flows of a
/// `workload.kind = "trace"` scenario. `progress(done, total, sim_us)` is
/// called between slices of the run; an exception it raises (or Ctrl-C)
/// stops the run.
#[pyfunction]
#[pyo3(signature = (text, source, overrides=Vec::new(), trace=None, progress=None, slice_events=2_000_000))]
fn simulate<'py>(
    py: Python<'py>,
    text: &str,
    source: &str,
    overrides: Vec<String>,
    trace: Option<Bound<'py, PyDict>>,
    progress: Option<PyObject>,
    slice_events: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let (scenario, warnings) = Scenario::from_toml(text, source, &overrides).map_err(err)?;
    let hosts = scenario.topology.num_hosts();
    let flows = match &trace {
        Some(t) => Some(trace_flows(t, hosts)?),
        None => None,
    };
    let mut sim = Simulation::new(scenario, flows, warnings).map_err(err)?;
    loop {
        let p = py.allow_threads(|| sim.step(slice_events));
        py.check_signals()?;
        if let Some(cb) = &progress {
            let (done, total) = sim.progress();
            cb.call1(py, (done, total, sim.world().now.as_us_f64()))?;
        }
        if p != Progress::Running {
            break;
        }
    }
    let protocol = sim.scenario().transport.protocol.clone();
    let out = sim.finish();
    let d = PyDict::new(py);

    let flows = PyDict::new(py);
    let r = &out.records;
    let us = |p: Option<Picos>| p.map_or(f64::NAN, |p| p.as_us_f64());
    flows.set_item("id", r.iter().map(|x| x.id).collect::<Vec<_>>())?;
    flows.set_item("src", r.iter().map(|x| x.src).collect::<Vec<_>>())?;
    flows.set_item("dst", r.iter().map(|x| x.dst).collect::<Vec<_>>())?;
    flows.set_item("size_bytes", r.iter().map(|x| x.size).collect::<Vec<_>>())?;
    flows.set_item(
        "start_us",
        r.iter().map(|x| x.start.as_us_f64()).collect::<Vec<_>>(),
    )?;
    flows.set_item(
        "finish_us",
        r.iter().map(|x| us(x.finish)).collect::<Vec<_>>(),
    )?;
    flows.set_item("fct_us", r.iter().map(|x| us(x.fct)).collect::<Vec<_>>())?;
    flows.set_item(
        "opt_us",
        r.iter().map(|x| x.opt.as_us_f64()).collect::<Vec<_>>(),
    )?;
    flows.set_item("slowdown", r.iter().map(|x| x.slowdown).collect::<Vec<_>>())?;
    flows.set_item(
        "retransmits",
        r.iter().map(|x| x.retransmits).collect::<Vec<_>>(),
    )?;
    flows.set_item("drops", r.iter().map(|x| x.drops).collect::<Vec<_>>())?;
    flows.set_item("tenant", r.iter().map(|x| x.tenant).collect::<Vec<_>>())?;
    flows.set_item(
        "deadline_us",
        r.iter().map(|x| us(x.deadline)).collect::<Vec<_>>(),
    )?;
    flows.set_item(
        "completed",
        r.iter().map(|x| x.finish.is_some()).collect::<Vec<_>>(),
    )?;
    d.set_item("flows", flows)?;

    let s = &out.summary;
    let summary = PyDict::new(py);
    summary.set_item("protocol", protocol)?;
    summary.set_item("flows", s.all.count)?;
    summary.set_item("completed", s.all.completed)?;
    summary.set_item("mean_slowdown", s.all.mean)?;
    summary.set_item("median_slowdown", s.all.median)?;
    summary.set_item("p99_slowdown", s.all.p99)?;
    summary.set_item("p999_slowdown", s.all.p999)?;
    summary.set_item("normalized_fct", s.all.normalized_fct)?;
    summary.set_item("mean_fct_us", s.all.mean_fct_us)?;
    summary.set_item("throughput_gbps", s.throughput_gbps)?;
    let by_class = PyDict::new(py);
    by_class.set_item("short", stats_dict(py, &s.short)?)?;
    by_class.set_item("medium", stats_dict(py, &s.medium)?)?;
    by_class.set_item("long", stats_dict(py, &s.long)?)?;
    summary.set_item("by_class", by_class)?;
    let drops = PyDict::new(py);
    for (hop, n) in &s.drops_by_hop {
        drops.set_item(*hop, *n)?;
    }
    summary.set_item("drops", drops)?;
    summary.set_item("total_drops", s.drops)?;
    summary.set_item("retransmissions", s.retransmissions)?;
    summary.set_item("timeouts", s.timeouts)?;
    summary.set_item("fast_retransmits", s.fast_retransmits)?;
    summary.set_item("deadlines_met", s.deadlines_met)?;
    let st = &out.stats;
    summary.set_item("sim_time_us", st.end_time.as_us_f64())?;
    summary.set_item("events", st.events)?;
    summary.set_item("packets", st.packets_sent)?;
    summary.set_item("packet_hops", st.packet_hops)?;
    summary.set_item("wall_s", st.wall_seconds)?;
    summary.set_item("stalled", st.stalled)?;
    d.set_item("summary", summary)?;

    let pending = PyDict::new(py);
    pending.set_item(
        "time_us",
        out.pending
            .iter()
            .map(|(t, _)| t.as_us_f64())
            .collect::<Vec<_>>(),
    )?;
    pending.set_item(
        "pending_bytes",
        out.pending.iter().map(|(_, b)| *b).collect::<Vec<_>>(),
    )?;
    d.set_item("pending", pending)?;

    let tenants = PyDict::new(py);
    tenants.set_item(
        "time_us",
        out.tenants
            .iter()
            .map(|(t, _, _)| t.as_us_f64())
            .collect::<Vec<_>>(),
    )?;
    tenants.set_item(
        "tenant",
        out.tenants.iter().map(|(_, k, _)| *k).collect::<Vec<_>>(),
    )?;
    tenants.set_item(
        "delivered_bytes",
        out.tenants.iter().map(|(_, _, b)| *b).collect::<Vec<_>>(),
    )?;
    d.set_item("tenants", tenants)?;

    let ports = PyDict::new(py);
    let p = &out.ports;
    ports.set_item("port", p.iter().map(|x| x.port).collect::<Vec<_>>())?;
    ports.set_item("node", p.iter().map(|x| x.node).collect::<Vec<_>>())?;
    ports.set_item("peer", p.iter().map(|x| x.peer).collect::<Vec<_>>())?;
    ports.set_item("hop", p.iter().map(|x| x.hop).collect::<Vec<_>>())?;
    ports.set_item(
        "tx_packets",
        p.iter().map(|x| x.tx_packets).collect::<Vec<_>>(),
    )?;
    ports.set_item("tx_bytes", p.iter().map(|x| x.tx_bytes).collect::<Vec<_>>())?;
    ports.set_item("drops", p.iter().map(|x| x.drops).collect::<Vec<_>>())?;
    ports.set_item(
        "max_queue_bytes",
        p.iter().map(|x| x.max_queue_bytes).collect::<Vec<_>>(),
    )?;
    ports.set_item(
        "mean_queue_bytes",
        p.iter().map(|x| x.mean_queue_bytes).collect::<Vec<_>>(),
    )?;
    d.set_item("ports", ports)?;

    d.set_item("warnings", PyList::new(py, &out.warnings)?)?;
    Ok(d)
}

/// The names of the built-in flow-size distributions.
#[pyfunction]
fn builtin_distributions() -> Vec<&'static str> {
    ddclab_sim::workload::cdf::BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect()
}

/// The protocols the simulator implements.
#[pyfunction]
fn protocols() -> Vec<&'static str> {
    ddclab_sim::transport::PROTOCOLS.to_vec()
}

/// Parse a CDF file's text (errors name the file and line); returns its
/// points as (size in packets, cumulative probability).
#[pyfunction]
fn parse_cdf(text: &str, source: &str) -> PyResult<Vec<(f64, f64)>> {
    Ok(ddclab_sim::workload::EmpiricalCdf::parse(text, source)
        .map_err(err)?
        .points()
        .to_vec())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(check_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_distributions, m)?)?;
    m.add_function(wrap_pyfunction!(protocols, m)?)?;
    m.add_function(wrap_pyfunction!(parse_cdf, m)?)?;
    Ok(())
}
