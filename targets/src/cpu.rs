//! CPU time of the driver and of the children it has waited for (cargo, rustc through
//! cargo, test binaries, QEMU, Node, pytest…), read from `/proc/self/stat`: the step
//! lines print it next to the wall time, so every run shows where the CPU goes. Wall
//! time on a shared 2-core machine mostly measures the load; CPU seconds (user + sys)
//! change much less with it.
//!
//! Linux only (elsewhere `None`, and the lines show wall time alone). The kernel reports
//! these fields in `USER_HZ` ticks, 100 per second on every Linux architecture the driver
//! runs on (`sysconf(_SC_CLK_TCK)`; reading it would need `libc` and `unsafe`).

use std::time::Duration;

/// `USER_HZ`: the unit of `/proc/<pid>/stat`'s time fields.
const TICKS_PER_SECOND: u64 = 100;

/// User + system time of this process and of its waited-for children (recursively:
/// a child's count includes the grandchildren it waited for), so far.
pub fn used() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    ticks(&stat).map(|t| Duration::from_millis(t * 1000 / TICKS_PER_SECOND))
}

/// utime + stime + cutime + cstime (fields 14–17) of a `/proc/<pid>/stat` line. The
/// command name (field 2) sits in parentheses and may hold spaces, so the fields are
/// counted from after its closing parenthesis.
fn ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is the first; fields 14..=17 are at indices 11..=14.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let mut sum = 0u64;
    for f in fields.get(11..15)? {
        sum += f.parse::<u64>().ok()?;
    }
    Some(sum)
}

/// `" (cpu 3m12s)"` for a CPU time, or nothing when it could not be read.
pub fn note(cpu: Option<Duration>) -> String {
    cpu.map(|c| format!(" (cpu {})", crate::step::fmt_duration(c)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_four_time_fields_after_the_command_name() {
        // A real line's shape; the command name holds a space and a parenthesis.
        let line = "4242 (x) task) S 1 4242 4242 0 -1 4194304 120 0 0 0 \
                    150 30 7000 500 20 0 1 0 100 1000 100 18446744073709551615";
        assert_eq!(ticks(line), Some(150 + 30 + 7000 + 500));
        assert_eq!(ticks("4242 (xtask) S 1 2"), None);
    }

    #[test]
    fn this_process_has_a_reading_on_linux() {
        if cfg!(target_os = "linux") {
            let before = used().expect("/proc/self/stat");
            // Burn a little CPU so the reading can grow; it never goes backwards.
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
            let after = used().expect("/proc/self/stat");
            assert!(after >= before);
            assert!(note(Some(after - before)).starts_with(" (cpu "));
            assert_eq!(note(None), "");
        }
    }
}
