//! Emulator configuration, passed from `ddclab emu run` to the shim through
//! environment variables (the only channel that survives exec unchanged).

use crate::netmodel::{FctTable, Model};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var}={value:?}: {why}")]
    Bad { var: &'static str, value: String, why: &'static str },
    #[error("DDCLAB_MEMU_FCT={path:?}: {why}")]
    Fct { path: String, why: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Pages parked in the emulator's own address space (the study's setup).
    InProc,
    /// A memu-blade server over a shared-memory ring (path of the ring file).
    Shm,
    /// A memu-blade server over TCP.
    Tcp,
}

/// The CPU the emulator's two service threads are pinned to.
///
/// Why pin them together: left to the scheduler, the handler, the evictor
/// and the program's threads drift over the CPUs, and the handler often
/// waits behind the evictor (or the program) for a CPU. Pinned to one CPU,
/// the load balancer keeps the program's threads on the others. Measured on
/// the 2-core VM at 25% local, zero delay (medians of 5 / 3 runs): memkernel
/// rand 0.87 -> 0.58 s, hashjoin 1.85 -> 1.29 s, Timely PageRank 3.78 ->
/// 2.69 s, memcached-a 4.25 -> 3.50 s, the handler's share per remote fault
/// 60-87 -> 18-35 us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCpu {
    /// The last CPU the process may run on (none if it may run on only one,
    /// or with a spinning handler, which needs a CPU to itself).
    Auto,
    /// Not pinned.
    None,
    Cpu(usize),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Local budget in pages; u64::MAX = unlimited (calibration runs).
    pub local_pages: u64,
    pub model: Model,
    /// Readahead cluster in pages (power of two, 1 = no readahead).
    pub readahead: u64,
    /// Pages per eviction batch.
    pub evict_batch: usize,
    /// Spin on the userfaultfd instead of sleeping in poll().
    pub spin: bool,
    /// Where the handler and evictor threads run (see `ServiceCpu`).
    pub service_cpu: ServiceCpu,
    /// Use async write-protect + PAGEMAP_SCAN to skip write-back of clean pages.
    pub dirty_tracking: bool,
    pub backend: BackendKind,
    pub backend_addr: String,
    pub stats_dir: Option<String>,
    pub trace_dir: Option<String>,
    pub trace_capacity: u64,
    /// Executables (file names of /proc/self/exe) left unemulated.
    pub unemulated: Vec<String>,
    /// Keep the service threads in the program's descriptor table (what
    /// happens anyway where unshare(CLONE_FILES) is refused); for tests of
    /// that fallback.
    pub shared_fds: bool,
}

/// Left unemulated unless DDCLAB_MEMU_UNEMULATED says otherwise: the JDK's
/// helper that every process a JVM starts goes through. It only closes
/// descriptors and execs the real child (which is emulated again: LD_PRELOAD
/// is inherited), so emulating it would cost a userfaultfd, two threads and
/// a scan of its maps per child process and measure nothing.
pub const DEFAULT_UNEMULATED: &str = "jspawnhelper";

fn num(var: &'static str, get: &dyn Fn(&str) -> Option<String>, default: u64) -> Result<u64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Bad {
            var,
            value: v.clone(),
            why: "expected a non-negative integer",
        }),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let local_pages = match get("DDCLAB_MEMU_LOCAL_PAGES") {
            None => u64::MAX,
            Some(v) if v == "unlimited" || v.is_empty() => u64::MAX,
            Some(_) => {
                let n = num("DDCLAB_MEMU_LOCAL_PAGES", get, 0)?;
                if n == 0 {
                    return Err(ConfigError::Bad {
                        var: "DDCLAB_MEMU_LOCAL_PAGES",
                        value: "0".into(),
                        why: "the local budget must be at least one page",
                    });
                }
                n
            }
        };
        let model = match get("DDCLAB_MEMU_FCT").filter(|s| !s.is_empty()) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::Fct { path: path.clone(), why: e.to_string() })?;
                Model::Fct(FctTable::parse(&text).map_err(|e| ConfigError::Fct { path, why: e.0 })?)
            }
            None => Model::Link {
                latency_ns: num("DDCLAB_MEMU_LATENCY_NS", get, 0)?,
                bandwidth_bps: num("DDCLAB_MEMU_BANDWIDTH_BPS", get, 0)?,
            },
        };
        let readahead = num("DDCLAB_MEMU_READAHEAD", get, 8)?;
        if readahead == 0 || !readahead.is_power_of_two() || readahead > 512 {
            return Err(ConfigError::Bad {
                var: "DDCLAB_MEMU_READAHEAD",
                value: readahead.to_string(),
                why: "expected a power of two between 1 and 512",
            });
        }
        let evict_batch = num("DDCLAB_MEMU_EVICT_BATCH", get, 32)?;
        if evict_batch == 0 || evict_batch > 4096 {
            return Err(ConfigError::Bad {
                var: "DDCLAB_MEMU_EVICT_BATCH",
                value: evict_batch.to_string(),
                why: "expected 1..=4096",
            });
        }
        let (backend, backend_addr) = match get("DDCLAB_MEMU_BACKEND").as_deref() {
            None | Some("") | Some("inproc") => (BackendKind::InProc, String::new()),
            Some(s) if s.starts_with("shm:") => (BackendKind::Shm, s[4..].to_string()),
            Some(s) if s.starts_with("tcp:") => (BackendKind::Tcp, s[4..].to_string()),
            Some(s) => {
                return Err(ConfigError::Bad {
                    var: "DDCLAB_MEMU_BACKEND",
                    value: s.to_string(),
                    why: "expected inproc, shm:PATH or tcp:HOST:PORT",
                })
            }
        };
        let unemulated_spec = get("DDCLAB_MEMU_UNEMULATED").unwrap_or_else(|| DEFAULT_UNEMULATED.to_string());
        let unemulated: Vec<String> =
            unemulated_spec.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect();
        if unemulated.iter().any(|n| n.contains('/')) {
            return Err(ConfigError::Bad {
                var: "DDCLAB_MEMU_UNEMULATED",
                value: unemulated_spec,
                why: "expected comma-separated executable file names (no directories)",
            });
        }
        let service_cpu = match get("DDCLAB_MEMU_SERVICE_CPU").as_deref().map(str::trim) {
            None | Some("") | Some("auto") => ServiceCpu::Auto,
            Some("none") => ServiceCpu::None,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n < libc::CPU_SETSIZE as usize => ServiceCpu::Cpu(n),
                _ => {
                    return Err(ConfigError::Bad {
                        var: "DDCLAB_MEMU_SERVICE_CPU",
                        value: s.to_string(),
                        why: "expected auto, none or a CPU number",
                    })
                }
            },
        };
        Ok(Config {
            service_cpu,
            unemulated,
            shared_fds: num("DDCLAB_MEMU_SHARED_FDS", get, 0)? != 0,
            local_pages,
            model,
            readahead,
            evict_batch: evict_batch as usize,
            spin: num("DDCLAB_MEMU_SPIN", get, 0)? != 0,
            dirty_tracking: num("DDCLAB_MEMU_DIRTY", get, 1)? != 0,
            backend,
            backend_addr,
            stats_dir: get("DDCLAB_MEMU_STATS_DIR").filter(|s| !s.is_empty()),
            trace_dir: get("DDCLAB_MEMU_TRACE_DIR").filter(|s| !s.is_empty()),
            trace_capacity: num("DDCLAB_MEMU_TRACE_CAP", get, 1 << 22)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Config::from_lookup(&move |k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_unlimited_and_zero_delay() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.local_pages, u64::MAX);
        assert_eq!(c.model, Model::Link { latency_ns: 0, bandwidth_bps: 0 });
        assert_eq!(c.readahead, 8);
        assert_eq!(c.backend, BackendKind::InProc);
        assert_eq!(c.unemulated, vec!["jspawnhelper".to_string()]);
    }

    #[test]
    fn unemulated_executables_are_a_list_of_names() {
        let c = cfg(&[("DDCLAB_MEMU_UNEMULATED", "a, b,,")]).unwrap();
        assert_eq!(c.unemulated, vec!["a".to_string(), "b".to_string()]);
        assert!(cfg(&[("DDCLAB_MEMU_UNEMULATED", "")]).unwrap().unemulated.is_empty());
        let e = cfg(&[("DDCLAB_MEMU_UNEMULATED", "/usr/bin/x")]).unwrap_err();
        assert!(e.to_string().starts_with("DDCLAB_MEMU_UNEMULATED="), "{e}");
    }

    #[test]
    fn service_cpu_is_auto_none_or_a_number() {
        assert_eq!(cfg(&[]).unwrap().service_cpu, ServiceCpu::Auto);
        assert_eq!(cfg(&[("DDCLAB_MEMU_SERVICE_CPU", "none")]).unwrap().service_cpu, ServiceCpu::None);
        assert_eq!(cfg(&[("DDCLAB_MEMU_SERVICE_CPU", "3")]).unwrap().service_cpu, ServiceCpu::Cpu(3));
        let e = cfg(&[("DDCLAB_MEMU_SERVICE_CPU", "-1")]).unwrap_err();
        assert!(e.to_string().starts_with("DDCLAB_MEMU_SERVICE_CPU="), "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("DDCLAB_MEMU_LATENCY_NS", "-5")]).unwrap_err();
        assert!(e.to_string().starts_with("DDCLAB_MEMU_LATENCY_NS="), "{e}");
        assert!(cfg(&[("DDCLAB_MEMU_READAHEAD", "3")]).is_err());
        assert!(cfg(&[("DDCLAB_MEMU_LOCAL_PAGES", "0")]).is_err());
        assert!(cfg(&[("DDCLAB_MEMU_BACKEND", "rdma")]).is_err());
        let c = cfg(&[("DDCLAB_MEMU_BACKEND", "tcp:127.0.0.1:9")]).unwrap();
        assert_eq!((c.backend, c.backend_addr.as_str()), (BackendKind::Tcp, "127.0.0.1:9"));
    }
}
