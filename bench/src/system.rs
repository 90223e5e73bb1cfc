//! The machine and the processes on it: open-file limits, CPU pinning, memory of a
//! process, and facts about the CPU for the report.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Set in the environment once the open-file limit was raised, so the process re-executes
/// itself at most once.
const NOFILE_GUARD_VAR: &str = "CHANNELS_API_BENCH_NOFILE_RAISED";

/// The soft and hard limits on open files of this process (`None` is unlimited).
pub(crate) fn nofile_limits() -> Option<(Option<u64>, Option<u64>)> {
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let parse = |field: &str| -> Option<Option<u64>> {
        if field == "unlimited" {
            Some(None)
        } else {
            field.parse().ok().map(Some)
        }
    };
    Some((parse(fields.next()?)?, parse(fields.next()?)?))
}

/// The soft limit on open files, as a number.
pub(crate) fn nofile_soft_limit() -> u64 {
    match nofile_limits() {
        Some((Some(soft), _)) => soft,
        Some((None, _)) => u64::MAX,
        None => 1024,
    }
}

/// Raises the soft limit on open files to the hard limit.
///
/// The workspace forbids `unsafe` code, so `setrlimit` cannot be called directly: the
/// process re-executes itself (same PID, same arguments) through `sh -c 'ulimit -S -n N;
/// exec ...'`. Returns when no raise is needed or the re-execution failed; on success it
/// does not return.
pub(crate) fn raise_nofile_limit() {
    let Some((Some(soft), hard)) = nofile_limits() else {
        return;
    };
    let nr_open = fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    let target = hard.unwrap_or(nr_open).min(nr_open);
    if soft >= target || std::env::var_os(NOFILE_GUARD_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let error = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "ulimit -S -n {target} 2>/dev/null; exec \"$0\" \"$@\""
        ))
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(NOFILE_GUARD_VAR, "1")
        .exec();
    eprintln!("note: could not raise the open-file limit above {soft}: {error}");
}

/// The CPUs this process may run on, from `Cpus_allowed_list` in /proc/self/status.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(parse_cpu_list)
        })
        .unwrap_or_default()
}

/// Parses a kernel CPU list such as `0-3,8,10-11`.
pub(crate) fn parse_cpu_list(text: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.trim().parse(), part.trim().parse()),
        };
        if let (Ok(first), Ok(last)) = (first, last)
            && last >= first
            && last - first < 4096
        {
            cpus.extend(first..=last);
        }
    }
    cpus
}

/// Which CPU each side runs on, when they are pinned.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Pinning {
    /// The CPU of every server process.
    pub(crate) server_cpu: usize,
    /// The CPU of the load generator (this process).
    pub(crate) generator_cpu: usize,
}

/// Pins this process, every thread of it, to one CPU and keeps another for the servers,
/// with `taskset`. Call it before any thread is started, so that the runtime's threads
/// inherit the mask. `None` when there are fewer than two CPUs or `taskset` fails.
pub(crate) fn pin_generator() -> Option<Pinning> {
    let cpus = allowed_cpus();
    let (&server_cpu, &generator_cpu) = (cpus.first()?, cpus.get(1)?);
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c"])
        .arg(generator_cpu.to_string())
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(Pinning {
        server_cpu,
        generator_cpu,
    })
}

/// The resident set size of process `pid`, in bytes, from /proc/PID/status.
pub(crate) fn rss_bytes(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmRSS line in {path}"))
}

/// Linux reports CPU times in USER_HZ ticks, which are 1/100 s on every architecture it
/// supports.
const USER_HZ: f64 = 100.0;

/// The fields of /proc/PID/stat after the command name (the name, in parentheses, may
/// hold spaces): the state is the first, the parent's PID the second.
fn stat_fields(pid: u32) -> Result<Vec<String>, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default())
}

/// The ticks of the stat field at `index` (counted after the command name).
fn ticks(fields: &[String], index: usize) -> Option<u64> {
    fields.get(index).and_then(|v| v.parse().ok())
}

/// The CPU time process `pid` (all its threads) has used so far, in seconds, from
/// /proc/PID/stat.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let fields = stat_fields(pid)?;
    // Fields 14 and 15 (utime, stime) of the whole line; 12 and 13 after the name.
    match (ticks(&fields, 11), ticks(&fields, 12)) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / USER_HZ),
        _ => Err(format!("cannot read the CPU times in /proc/{pid}/stat")),
    }
}

/// The parent of process `pid`.
pub(crate) fn parent_pid(pid: u32) -> Option<u32> {
    stat_fields(pid).ok()?.get(1)?.parse().ok()
}

/// The command name of process `pid` (/proc/PID/comm).
pub(crate) fn process_name(pid: u32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_owned())
}

/// The CPU time, in seconds, that process `pid` and its children have used so far: its
/// own, that of its children still running, and that of those it has waited for
/// (fields 16 and 17 of its stat, `cutime` and `cstime`). For a PostgreSQL server, whose
/// postmaster forks a process per connection and for its background work, that is all
/// the database's work.
pub(crate) fn tree_cpu_seconds(pid: u32) -> Result<f64, String> {
    let fields = stat_fields(pid)?;
    let own = [11, 12, 13, 14]
        .iter()
        .map(|&i| ticks(&fields, i))
        .sum::<Option<u64>>()
        .ok_or_else(|| format!("cannot read the CPU times in /proc/{pid}/stat"))?;
    let dir = fs::read_dir("/proc").map_err(|e| format!("cannot list /proc: {e}"))?;
    let children: u64 = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| stat_fields(child).ok())
        .filter(|fields| fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid))
        .filter_map(|fields| Some(ticks(&fields, 11)? + ticks(&fields, 12)?))
        .sum();
    Ok((own + children) as f64 / USER_HZ)
}

/// Facts about the machine, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Machine {
    /// The CPU's model name, from /proc/cpuinfo.
    pub(crate) cpu_model: String,
    /// Logical CPUs in /proc/cpuinfo.
    pub(crate) cores: usize,
    /// The CPUs this process was allowed to run on at start.
    pub(crate) allowed_cpus: Vec<usize>,
    /// Total memory, in bytes.
    pub(crate) memory_bytes: u64,
    /// The kernel release.
    pub(crate) kernel: String,
    /// The 1, 5 and 15 minute load averages at the start of the run.
    pub(crate) load_average: String,
}

impl Machine {
    /// Reads /proc.
    pub(crate) fn detect() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
            .count();
        let cores = if cores == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cores
        };
        let memory_bytes = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().strip_suffix("kB"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        let load_average = fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into());
        Self {
            cpu_model,
            cores,
            allowed_cpus: allowed_cpus(),
            memory_bytes,
            kernel,
            load_average,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), [0, 1]);
        assert_eq!(parse_cpu_list("0,2,4-6"), [0, 2, 4, 5, 6]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("3-1,x"), Vec::<usize>::new());
    }

    #[test]
    fn reads_own_limits_and_memory() {
        assert!(nofile_limits().is_some());
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        assert!(rss_bytes(u32::MAX).is_err());
        // Busy until the kernel has charged this process a tick (bounded, in case it never
        // does).
        let spin = std::time::Instant::now();
        let mut used = cpu_seconds(std::process::id()).unwrap();
        while used == 0.0 && spin.elapsed() < std::time::Duration::from_secs(5) {
            std::hint::black_box((0..10_000u64).sum::<u64>());
            used = cpu_seconds(std::process::id()).unwrap();
        }
        assert!(used >= 0.0);
        assert!(cpu_seconds(u32::MAX).is_err());
    }

    #[test]
    fn counts_the_cpu_of_a_process_and_its_children() {
        let me = std::process::id();
        assert_eq!(parent_pid(me), Some(std::os::unix::process::parent_id()));
        assert!(process_name(me).is_some_and(|name| !name.is_empty()));
        assert_eq!(parent_pid(u32::MAX), None);
        assert!(tree_cpu_seconds(u32::MAX).is_err());
        // Read in this order, since both only grow: the tree holds the process itself.
        let own = cpu_seconds(me).unwrap();
        let before = tree_cpu_seconds(me).unwrap();
        assert!(before >= own);
        // A child that spins for about half a second of CPU, waited for: its time counts
        // from then on (more than the waiting process could have spent itself).
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
            .status()
            .unwrap();
        assert!(status.success());
        let grown = tree_cpu_seconds(me).unwrap() - before;
        assert!(grown >= 0.1, "{grown}");
    }
}
