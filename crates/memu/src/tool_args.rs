//! Positional arguments of the measurement tools (memu-faultcost,
//! memu-uffd-floor); not part of the shim.

/// Argument `i` as a non-negative integer, `default` when absent; anything
/// else ends the tool with a one-line error and exit code 2.
pub fn arg(i: usize, default: u64) -> u64 {
    match std::env::args().nth(i) {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("error: argument {i} must be a non-negative integer, got {s:?}");
            std::process::exit(2)
        }),
    }
}

/// Argument `i` as a 0/1 switch named `name` (absent: 0); anything else ends
/// the tool with a one-line error and exit code 2.
pub fn flag(i: usize, name: &str) -> bool {
    match arg(i, 0) {
        0 => false,
        1 => true,
        v => {
            eprintln!("error: {name} must be 0 or 1, got {v}");
            std::process::exit(2)
        }
    }
}
