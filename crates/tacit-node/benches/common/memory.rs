//! The process's memory and CPU time as Linux reports them, for the benchmarks that print
//! a peak or a CPU figure.

/// A field of `/proc/self/status` (`VmRSS`, `VmHWM`), in kB; `None` where there is none.
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a peak measurement: resets the kernel's high-water mark (`VmHWM`) to what is resident
/// now. False where it cannot (then `VmHWM` is the peak since the process began).
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The CPU time this process has used (user and system, every thread), in seconds, from
/// `/proc/self/stat` (in ticks of 1/100 s, Linux's `USER_HZ`); `None` where there is none.
#[allow(dead_code)]
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields from the third on follow its ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}
