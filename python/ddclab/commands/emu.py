"""`ddclab emu`: run unmodified programs with emulated remote memory.

    ddclab emu run --local 25% --latency 5us --bandwidth 40Gbps -- PROGRAM ARGS...
    ddclab emu sweep --local 25% --latency 0,1us,2us,5us -- PROGRAM ARGS...
    ddclab emu probe [--backend tcp:HOST:PORT]
    ddclab emu blade tcp HOST:PORT

See docs/emulator.md for the mechanism and what is not emulated.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict
from pathlib import Path

import click

from ..atomic import write_text
from ..errors import DdclabError
from ..emu import fit as fitmod
from ..emu import idle
from ..emu import probe as probemod
from ..emu import runner, units

_CTX = {"ignore_unknown_options": True, "allow_interspersed_args": False}

_IDLE_POLL = click.option(
    "--idle-poll", default="auto", show_default=True,
    help="Keep idle CPUs polling while the runs go (PM QoS on /dev/cpu_dma_latency): a halted CPU's wake-up costs "
         "tens of us on a VM, twice per remote fault. auto (when the machine allows it), on (or fail), off.")


def _common(f):
    opts = [
        click.option("--local", "local", required=True, help="Local memory: X% of the program's peak anonymous resident set (calibrated), or a size like 256MiB."),
        click.option("--bandwidth", default="0", show_default=True, help="Link bandwidth per direction, e.g. 40Gbps (0 = unlimited)."),
        click.option("--readahead", default=8, show_default=True, type=int, help="Readahead cluster in pages (power of two; 1 = off)."),
        click.option("--fct", default=None, help="Take each transfer's time from an FCT table: a file, or a bundled NAME like 40g/tm/memcached."),
        click.option("--spin/--no-spin", default=False, show_default=True, help="Busy-poll the userfaultfd (lower fault cost, burns a core)."),
        click.option("--dirty-tracking/--no-dirty-tracking", default=True, show_default=True, help="Skip write-back of clean pages (async write-protect + PAGEMAP_SCAN)."),
        click.option("--evict-batch", default=32, show_default=True, type=int, help="Pages per eviction batch."),
        click.option("--backend", default="inproc", show_default=True, help="Where remote pages live: inproc (this process's RAM), tcp or shm (a memu-blade server started for the run), tcp:HOST:PORT or shm:SOCKPATH (a running one)."),
        _IDLE_POLL,
        click.option("--service-cpu", default="auto", show_default=True,
                     help="Pin the emulator's handler and evictor threads to one CPU (auto: the last one this process may use; "
                          "none; or a number): the scheduler then keeps the program's threads on the others."),
        click.option("--program-cpus", default="all", show_default=True,
                     help="all, or rest: keep the program off the service CPU (every other CPU this process may use). "
                          "Saves a single-threaded program the scheduler's moves onto the service threads' CPU; a "
                          "multi-threaded one on few cores loses a CPU."),
        click.option("--recalibrate", is_flag=True, help="Ignore the cached calibration of this command line."),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the results as JSON here."),
        click.argument("program", nargs=-1, type=click.UNPROCESSED),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _settings(local_pages, latency_ns, bandwidth, readahead, fct, spin, dirty, evict_batch, backend="inproc",
              service_cpu="auto", program_cpus="all") -> runner.Settings:
    if readahead < 1 or readahead > 512 or readahead & (readahead - 1):
        raise DdclabError(f"--readahead {readahead}: must be a power of two between 1 and 512")
    if not 1 <= evict_batch <= 4096:
        raise DdclabError(f"--evict-batch {evict_batch}: must be between 1 and 4096")
    s = runner.Settings(
        local_pages=local_pages,
        latency_ns=latency_ns,
        bandwidth_bps=units.bandwidth_bps(bandwidth),
        readahead=readahead,
        fct=runner.resolve_fct(fct) if fct else None,
        spin=spin,
        service_cpu=runner.check_service_cpu(service_cpu),
        dirty_tracking=dirty,
        evict_batch=evict_batch,
        backend=runner.check_backend(backend),
        program_cpus=runner.check_program_cpus(program_cpus),
    )
    s.placement()  # refuses an impossible placement now, not at the first run
    return s


def _local_pages(argv, spec: str, base: runner.Settings, recalibrate: bool) -> tuple[int | None, dict]:
    kind, value = units.local_spec(spec)
    if kind == "bytes":
        return max(1, int(value) // runner.PAGE), {"local": spec}
    click.echo(f"calibrating: peak anonymous resident set of {Path(argv[0]).name} ...", err=True)
    peak, cached = runner.calibrate(argv, base, refresh=recalibrate)
    pages = runner.pages_for_percent(peak, value)
    click.echo(
        f"calibration: peak {peak} pages ({peak * 4 / 1024:.1f} MiB){' [cached]' if cached else ''}; "
        f"local = {value:g}% = " + ("unlimited (nothing is remote)" if pages is None else f"{pages} pages ({pages * 4 / 1024:.1f} MiB)"),
        err=True,
    )
    return pages, {"local": spec, "peak_pages": peak, "calibration_cached": cached}


def _pages_text(pages: int | None) -> str:
    return "unlimited" if pages is None else f"{pages} pages"


def _fmt_us(ns):
    return "-" if ns is None else f"{ns / 1000:.2f} us"


def _report(label: str, r: runner.RunResult) -> dict:
    t = r.summary.totals
    click.echo(f"  {label:<10} {r.runtime_s:9.3f} s  {r.status_text():<16} remote faults {t['remote_faults']:>8}  "
               f"pages in {t['pages_fetched']:>8}  out {t['pages_evicted']:>8} (written back {t['pages_written_back']})")
    if t.get("uffd_closed"):
        click.echo(f"  {'':<10} {t['uffd_closed']} process(es) closed the emulator's userfaultfd and ran on unemulated "
                   "from then on (see docs/emulator.md)")
    return {
        "runtime_s": r.runtime_s,
        "returncode": r.returncode,
        "counters": t,
        "peak_pages": r.summary.root_peak_pages,
        "processes": r.summary.processes,
        "handler_overhead_median_ns": r.summary.overhead_median_ns,
        "handler_overhead_p99_ns": r.summary.overhead_p99_ns,
        "handler_overhead_mean_ns": r.summary.overhead_mean_ns,
        "trace_rows": r.trace_rows,
        "settings": r.settings,
    }


def _pass_through(r: runner.RunResult) -> int:
    """Exit like the program did: same code, or the same signal."""
    if r.returncode < 0:
        sig = -r.returncode
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return r.returncode


@click.group(name="emu")
def command() -> None:
    """Run unmodified programs with emulated remote memory (userfaultfd)."""


@command.command(name="run", context_settings=_CTX)
@click.option("--latency", default="0", show_default=True, help="Injected latency per transfer, e.g. 5us (a bare number is us).")
@click.option("--baseline/--no-baseline", default=True, show_default=True, help="Also run with zero injected delay and the same local memory, and report the slowdown against it.")
@click.option("--trace", "trace_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write every remote read and write to this Parquet file.")
@_common
def run_cmd(latency, baseline, trace_out, local, bandwidth, readahead, fct, spin, dirty_tracking, evict_batch, backend, idle_poll,
            service_cpu, program_cpus, recalibrate, out, program):
    """Run PROGRAM with only part of its memory local."""
    argv = runner.resolve_program(list(program))
    lat = units.latency_ns(latency)
    base = _settings(None, lat, bandwidth, readahead, fct, spin, dirty_tracking, evict_batch, backend, service_cpu, program_cpus)
    with idle.Holder(idle_poll) as ip:
        return _run(argv, lat, base, ip, baseline, trace_out, local, recalibrate, out)


def _run(argv, lat, base, ip, baseline, trace_out, local, recalibrate, out):
    pages, local_info = _local_pages(argv, local, base, recalibrate)
    base.local_pages = pages
    result = {"program": argv, "local": local_info, "local_pages": pages, "idle_poll": ip.to_dict()}
    click.echo(f"emulating {Path(argv[0]).name}: local {_pages_text(pages)}, latency {lat} ns, "
               f"bandwidth {'unlimited' if not base.bandwidth_bps else f'{base.bandwidth_bps / 1e9:g} Gb/s'}"
               f"{', FCT table ' + Path(base.fct).name if base.fct else ''}, readahead {base.readahead}, backend {base.backend}, "
               f"service CPU {base.service_cpu}, program CPUs {base.program_cpus}; "
               f"{ip.describe()}", err=True)
    zero = None
    if baseline:
        zero = runner.run_once(argv, base.zero_delay(), quiet=True)
        if zero.returncode != 0:
            click.echo(f"baseline run {zero.status_text()}", err=True)
            return _pass_through(zero)
    r = runner.run_once(argv, base, trace_out=trace_out)
    click.echo("results:")
    if zero is not None:
        result["baseline"] = _report("baseline", zero)
    result["emulated"] = _report("emulated", r)
    if zero is not None and zero.runtime_s > 0:
        slow = (r.runtime_s / zero.runtime_s - 1) * 100
        result["slowdown_pct"] = slow
        click.echo(f"  degradation vs zero-injected-delay run with the same local memory: {slow:+.1f}%")
    s = r.summary
    click.echo(f"  emulator overhead per remote fault (handler, excl. injected delay): median {_fmt_us(s.overhead_median_ns)}, "
               f"p99 {_fmt_us(s.overhead_p99_ns)}; stall waiting for eviction {s.totals['stall_ns'] / 1e6:.1f} ms")
    try:
        fc = probemod.fault_cost(base.zero_delay(), pages=2048, samples=400)
        result["fault_cost_us"] = asdict(fc)
        floor = probemod.uffd_floor(400, base.spin)
        result["uffd_floor_us"] = asdict(floor)
        click.echo(f"  end-to-end fault cost at zero injected delay (memu-faultcost): median {fc.median_us:.2f} us, "
                   f"p99 {fc.p99_us:.2f} us; a bare userfaultfd round trip here (the floor): median {floor.median_us:.2f} us "
                   "(the study's kernel path: 2.46 us)")
    except DdclabError as exc:
        click.echo(f"  end-to-end fault cost: not measured ({exc})", err=True)
    if trace_out is not None:
        click.echo(f"  trace: {r.trace_rows} records -> {trace_out}" + (f" ({r.trace_dropped} dropped: trace full)" if r.trace_dropped else ""))
    if out is not None:
        write_text(out, json.dumps(result, indent=1, default=str))
    return _pass_through(r)


@command.command(name="sweep", context_settings=_CTX)
@click.option("--latency", "latencies", default="0,1us,2us,5us", show_default=True, help="Comma-separated injected latencies.")
@click.option("--repeat", default=1, show_default=True, type=int, help="Runs per latency (the median runtime is used).")
@_common
def sweep_cmd(latencies, repeat, local, bandwidth, readahead, fct, spin, dirty_tracking, evict_batch, backend, idle_poll, service_cpu,
              program_cpus, recalibrate, out, program):
    """Run PROGRAM at several injected latencies and fit runtime against delay."""
    with idle.Holder(idle_poll) as ip:
        return _sweep(latencies, repeat, local, bandwidth, readahead, fct, spin, dirty_tracking, evict_batch, backend, service_cpu,
                      program_cpus, ip, recalibrate, out, program)


def _sweep(latencies, repeat, local, bandwidth, readahead, fct, spin, dirty_tracking, evict_batch, backend, service_cpu, program_cpus,
           ip, recalibrate, out, program):
    argv = runner.resolve_program(list(program))
    lats = units.latency_list(latencies)
    if 0 not in lats:
        lats = [0] + lats
    if repeat < 1:
        raise DdclabError(f"--repeat {repeat}: must be at least 1")
    if fct:
        raise DdclabError("--fct: a sweep varies the latency; use `emu run --fct` for FCT-table runs")
    base = _settings(None, 0, bandwidth, readahead, None, spin, dirty_tracking, evict_batch, backend, service_cpu, program_cpus)
    pages, local_info = _local_pages(argv, local, base, recalibrate)
    base.local_pages = pages
    click.echo(ip.describe(), err=True)
    points = []
    for lat in sorted(set(lats)):
        s = runner.Settings(**{**base.__dict__, "latency_ns": lat})
        runs = []
        for _ in range(repeat):
            r = runner.run_once(argv, s, quiet=True)
            if r.returncode != 0:
                raise DdclabError(f"{Path(argv[0]).name} failed at latency {lat} ns ({r.status_text()})")
            runs.append(r)
        runs.sort(key=lambda x: x.runtime_s)
        m = runs[len(runs) // 2]
        points.append({"latency_us": lat / 1000, "runtime_s": m.runtime_s, "remote_faults": m.summary.totals["remote_faults"],
                       "handler_overhead_median_ns": m.summary.overhead_median_ns})
        click.echo(f"  latency {lat / 1000:8.2f} us  runtime {m.runtime_s:9.3f} s  remote faults {m.summary.totals['remote_faults']}", err=True)
    f = fitmod.fit([p["latency_us"] for p in points], [p["runtime_s"] for p in points])
    zero_rt = points[0]["runtime_s"]
    click.echo(f"local {_pages_text(pages)}; runtime = {f.intercept_s:.4f} s + {f.slope_s_per_us:.4f} s/us * latency  (R^2 {f.r2:.3f}, {len(points)} points)")
    click.echo(f"{'latency':>10} {'runtime':>10} {'slowdown':>9}")
    for p in points:
        click.echo(f"{p['latency_us']:8.2f}us {p['runtime_s']:9.3f}s {(p['runtime_s'] / zero_rt - 1) * 100:+8.1f}%")
    req = {}
    for pct in (5, 10, 25):
        d = f.delay_for_slowdown_us(pct)
        req[f"{pct}%"] = d
        click.echo(f"  latency keeping the slowdown within {pct}% (from the fit): " + ("unbounded (no slowdown trend)" if d is None else f"{d:.2f} us"))
    if out is not None:
        write_text(out, json.dumps({"program": argv, "local": local_info, "local_pages": pages, "idle_poll": ip.to_dict(), "points": points,
                                    "fit": asdict(f), "latency_for_slowdown_us": req}, indent=1))
    return 0


@command.command(name="probe")
@click.option("--pages", default=4096, show_default=True, type=int, help="Pages the probe program touches.")
@click.option("--samples", default=2000, show_default=True, type=int, help="Faults timed per backend.")
@click.option("--latency", default="0", show_default=True, help="Injected latency (0 measures the emulator itself).")
@click.option("--spin/--no-spin", default=False, show_default=True, help="Busy-poll the userfaultfd.")
@click.option("--backend", "backends", multiple=True, default=("inproc", "shm", "tcp"), show_default=True,
              help="Backend to measure (repeatable): inproc, shm, tcp, or a running blade's tcp:HOST:PORT / shm:SOCKPATH.")
@_IDLE_POLL
def probe_cmd(pages, samples, latency, spin, backends, idle_poll):
    """Measure the request latency of each backend (min/avg/median/p99.5/max)."""
    if pages < 64 or samples < 1:
        raise DdclabError("--pages must be at least 64 and --samples at least 1")
    backends = [runner.check_backend(b) for b in backends]
    s = runner.Settings(latency_ns=units.latency_ns(latency), spin=spin)
    with idle.Holder(idle_poll) as ip:
        w = max(10, *(len(b) for b in backends))

        def row(name, d, note=""):
            click.echo(f"{name:<{w}} {d.min_us:8.2f} {d.avg_us:8.2f} {d.median_us:8.2f} {d.p995_us:8.2f} {d.max_us:9.2f}{note}")

        click.echo(f"{'backend':<{w}} {'min':>8} {'avg':>8} {'median':>8} {'p99.5':>8} {'max':>9}   (us per remote fault, {samples} samples)")
        row("floor", probemod.uffd_floor(samples, spin), "   (a bare userfaultfd round trip, no emulator)")
        for name in backends:
            s.backend = name
            row(name, probemod.fault_cost(s, pages=pages, samples=samples, local_pages=max(16, pages // 32)))
        click.echo(ip.describe(), err=True)
    return 0


@command.command(name="blade")
@click.argument("kind", type=click.Choice(["tcp", "shm"]))
@click.argument("address")
def blade_cmd(kind, address):
    """Serve remote pages until Ctrl-C: a memory blade listening on ADDRESS
    (HOST:PORT for tcp, port 0 picks one; a socket path for shm).

    Programs elsewhere keep their remote pages here with
    `ddclab emu run --backend tcp:HOST:PORT ...`. To put a real (virtual) link
    between them, run the blade in another network namespace, e.g.
    `ip netns exec blade ddclab emu blade tcp 10.0.0.2:7000` (docs/emulator.md,
    "Backends")."""
    blade = runner.Blade(kind, address)
    click.echo(f"memory blade listening: use --backend {blade.spec}  (Ctrl-C stops it)")
    try:
        rc, err = blade.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        blade.close()
    if rc != 0:
        raise DdclabError(f"the memory blade exited with code {rc}: {err or 'no output'}")
    return 0
