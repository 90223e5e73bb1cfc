//! Server subprocesses: this program re-executed as `serve`, so that each server's memory
//! can be read on its own and the server can be pinned to its own CPU.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::{SERVE_DB_VAR, ServerKind, is_local};
use crate::system;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How much of a server's standard error is kept for error messages.
const STDERR_KEEP: usize = 16 * 1024;

/// A running server subprocess. Killed when dropped.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    kind: ServerKind,
    child: Child,
    /// Closing it tells the server to exit, should this process die without killing it.
    _lifeline: Option<ChildStdin>,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts a server of `kind` on a free 127.0.0.1 port, over the database at `db_url`,
    /// pinned to `cpu` when given, and waits until it listens.
    pub(crate) fn start(
        kind: ServerKind,
        db_url: Option<&str>,
        cpu: Option<usize>,
    ) -> Result<Self, String> {
        Self::start_with(kind, db_url, cpu, &[])
    }

    /// [`ServerProcess::start`] with `extra` arguments to `serve` (such as `--no-live`).
    pub(crate) fn start_with(
        kind: ServerKind,
        db_url: Option<&str>,
        cpu: Option<usize>,
        extra: &[&str],
    ) -> Result<Self, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this program's own path: {e}"))?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(&exe);
                command
            }
            None => Command::new(&exe),
        };
        command
            .args(["serve", "--kind", kind.name(), "--addr", "127.0.0.1:0"])
            .arg("--exit-on-stdin-eof")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match db_url {
            Some(url) => command.env(SERVE_DB_VAR, url),
            None => command.env_remove(SERVE_DB_VAR),
        };
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the {} server: {e}", kind.name()))?;
        let lifeline = child.stdin.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let keep = stderr.clone();
            std::thread::spawn(move || collect_stderr(pipe, &keep));
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut sent = false;
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if !sent {
                        sent = ready_tx.send(line).is_ok();
                    }
                }
            });
        }
        let mut server = ServerProcess {
            kind,
            child,
            _lifeline: lifeline,
            addr: ([127, 0, 0, 1], 0).into(),
            stderr,
        };
        let line = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(server.failure(&format!(
                    "did not start listening within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Give the exit status and the last words a moment to arrive.
                std::thread::sleep(Duration::from_millis(200));
                return Err(server.failure("exited before listening"));
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            .filter(is_local)
            .ok_or_else(|| server.failure(&format!("printed `{line}` instead of its address")))?;
        server.addr = addr;
        Ok(server)
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident set size, in bytes.
    pub(crate) fn rss(&mut self) -> Result<u64, String> {
        self.check_alive()?;
        system::rss_bytes(self.pid())
    }

    /// An error if the server has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(_)) | Err(_) => Err(self.failure("stopped unexpectedly")),
        }
    }

    /// Kills the server and describes what went wrong, with its exit status and the end
    /// of its standard error.
    fn failure(&mut self, what: &str) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!(" ({status})"),
            _ => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                String::new()
            }
        };
        let stderr = self
            .stderr
            .lock()
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let stderr = if stderr.is_empty() {
            String::new()
        } else {
            format!("; its standard error ends with:\n{stderr}")
        };
        format!("the {} server {what}{status}{stderr}", self.kind.name())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Reads `pipe` to its end, keeping the last [`STDERR_KEEP`] bytes in `keep`.
fn collect_stderr(mut pipe: impl Read, keep: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let Ok(mut text) = keep.lock() else { break };
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                if text.len() > STDERR_KEEP {
                    let mut cut = text.len() - STDERR_KEEP;
                    while !text.is_char_boundary(cut) {
                        cut += 1;
                    }
                    text.drain(..cut);
                }
            }
        }
    }
}
