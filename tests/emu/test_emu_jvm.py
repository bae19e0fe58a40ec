"""Thread stacks the emulator does not recognise (the JVM's): the interposed
calls must not deadlock on them (docs/notes-for-emu.md, "JVM hang").

The JVM gives its Java threads glibc stacks without a glibc guard and commits
its own guard zones later (mmap MAP_FIXED + mprotect), so the emulator's
rescan registers those stacks as ordinary anonymous memory. The hooks (mmap,
large malloc, ...) used to do their work with the emulator's Core lock held on
the calling thread's stack; the first touch of a new stack page then faulted,
the fault needed the handler, and the handler needed the lock: every JVM that
started a few threads hung, even with no memory limit. The hooks now hand
their work to the handler thread."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_under_shim

from ddclab.emu import stats

TIMEOUT_S = 30.0


def _run(argv, local_pages: str, stats_dir: Path, timeout_s: float = TIMEOUT_S, extra_env: dict | None = None):
    return run_under_shim(argv, local_pages, stats_dir, timeout_s, extra_env)


@pytest.mark.parametrize("local_pages", ["unlimited", "200"])
def test_jvm_like_thread_stacks_do_not_deadlock(memtest, memu_dir, tmp_path, local_pages):
    """`memtest jvmstack`: guard-less pthread stacks registered by a rescan,
    a JVM-style guard zone, then deep recursion calling malloc/mmap. With the
    old shim it hung every time with no memory limit."""
    for i in range(3):
        d = tmp_path / f"s{i}"
        d.mkdir()
        rc, out, err = _run([str(memtest), "jvmstack"], local_pages, d)
        assert rc == 0 and "OK jvmstack" in out, (rc, out, err)
    assert sum(p.counters["hook_requests"] for p in stats.read_dir(d)) > 0, "the hooks' work went through the handler thread"


JAVA_THREADS = r"""
public class Threads {
    static int depth(int n) { byte[] pad = new byte[64]; return n == 0 ? pad.length : depth(n - 1) + (pad[0] & 1); }
    public static void main(String[] a) throws Exception {
        int nt = Integer.parseInt(a[0]);
        Thread[] ts = new Thread[nt];
        long[] sums = new long[nt];
        for (int i = 0; i < nt; i++) {
            final int k = i;
            ts[i] = new Thread(() -> {
                long s = 0;
                for (int r = 0; r < 20; r++) { s += depth(2000); s += new byte[1 << 16].length; }
                sums[k] = s;
            });
            ts[i].start();
        }
        long t = 0;
        for (int i = 0; i < nt; i++) { ts[i].join(); t += sums[i]; }
        System.out.println("ok " + t);
    }
}
"""


JAVA_SPAWN = r"""
public class Spawn {
    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]);
        for (int i = 0; i < n; i++) {
            Process p = new ProcessBuilder("getconf", "PAGESIZE").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            int rc = p.waitFor();
            if (rc != 0 || !out.equals("4096")) {
                System.out.println("FAIL spawn " + i + " exit " + rc + ": " + out);
                System.exit(1);
            }
        }
        System.out.println("ok " + n);
    }
}
"""


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory) -> Path:
    javac = shutil.which("javac")
    if javac is None or shutil.which("java") is None:
        pytest.skip("no JDK (apt-get install -y openjdk-17-jdk-headless)")
    d = tmp_path_factory.mktemp("java")
    (d / "Threads.java").write_text(JAVA_THREADS)
    (d / "Spawn.java").write_text(JAVA_SPAWN)
    subprocess.run([javac, "Threads.java", "Spawn.java"], cwd=d, check=True, capture_output=True)
    return d


java_threads = java_classes


@pytest.mark.parametrize("local_pages", ["unlimited", "2000"])
def test_java_program_with_threads_completes(memu_dir, java_threads, tmp_path, local_pages):
    """A small Java program starting 8 threads: it hung 3 of 3 times under
    the old shim with no memory limit (`java -version` did not)."""
    expect = 8 * 20 * (64 + (1 << 16))
    for i in range(2):
        d = tmp_path / f"s{i}"
        d.mkdir()
        rc, out, err = _run([shutil.which("java"), "-Xmx64m", "-Xshare:auto", "-cp", str(java_threads), "Threads", "8"],
                            local_pages, d, timeout_s=60)
        assert rc == 0 and f"ok {expect}" in out, (rc, out, err[-2000:])


SPAWNS = 8


@pytest.mark.parametrize("local_pages", ["unlimited", "2000"])
@pytest.mark.parametrize("unemulated", ["default", "none"])
def test_processes_a_jvm_starts_run(memu_dir, java_classes, tmp_path, local_pages, unemulated):
    """`new ProcessBuilder("getconf", "PAGESIZE").start()`, several times.

    The JDK starts every child through jspawnhelper, which closes every
    descriptor above 2 before it execs the child, the emulator's userfaultfd
    included; the old handler then exited 125 (1 of the first 2 spawns, 3 of 3
    runs: Spark's `Process WrappedArray(getconf, PAGESIZE) exited with code
    125`). jspawnhelper is left unemulated by default; with
    DDCLAB_MEMU_UNEMULATED="" it is emulated, and its closes must not matter
    either (the service threads' private descriptor tables)."""
    extra = {} if unemulated == "default" else {"DDCLAB_MEMU_UNEMULATED": ""}
    rc, out, err = _run([shutil.which("java"), "-Xmx64m", "-cp", str(java_classes), "Spawn", str(SPAWNS)],
                        local_pages, tmp_path, timeout_s=90, extra_env=extra)
    assert rc == 0 and f"ok {SPAWNS}" in out, (rc, out, err[-2000:])
    procs = stats.read_dir(tmp_path)
    # The JVM and every getconf were emulated; jspawnhelper only when asked.
    expect = 1 + SPAWNS * (1 if unemulated == "default" else 2)
    assert len(procs) == expect, [p.path.name for p in procs]
