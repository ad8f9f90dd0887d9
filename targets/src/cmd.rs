//! External commands: echoed before they run, stdio inherited, non-zero exit is an error.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

/// A command line plus the environment variables it needs, printable as a shell line
/// so that a failing step can be re-run by hand.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    to_stderr: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            to_stderr: false,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Echo the command line and send the command's stdout to stderr, so that the
    /// driver's own stdout stays machine-readable (`size --json`).
    pub fn stdout_to_stderr(mut self) -> Self {
        self.to_stderr = true;
        self
    }

    /// The command as one shell line (`KEY=value program args…`).
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self
            .envs
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        parts.push(quote(&self.program.to_string_lossy()));
        parts.extend(self.args.iter().map(|a| quote(&a.to_string_lossy())));
        parts.join(" ")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Print the command, run it with inherited stdio, fail unless it exits with 0.
    pub fn run(&self) -> Result<()> {
        let mut cmd = self.command();
        cmd.stdin(Stdio::null());
        if self.to_stderr {
            eprintln!("+ {}", self.display());
            cmd.stdout(std::io::stderr().as_fd().try_clone_to_owned()?);
        } else {
            println!("+ {}", self.display());
        }
        let status = cmd
            .status()
            .map_err(|e| format!("cannot start `{}`: {e}", self.program.to_string_lossy()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("command failed ({status}): {}", self.display()).into())
        }
    }

    /// Print the command, run it with inherited stdio, return its exit code
    /// (`None` when killed by a signal).
    pub fn status(&self) -> Result<Option<i32>> {
        println!("+ {}", self.display());
        let status = self
            .command()
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot start `{}`: {e}", self.program.to_string_lossy()))?;
        Ok(status.code())
    }

    /// Print the command and run it with stdout inherited and stderr both shown and
    /// kept: returns whether it exited with 0, and its stderr (to tell failures apart).
    pub fn run_keeping_stderr(&self) -> Result<(bool, String)> {
        use std::io::{BufRead, BufReader, Write};
        println!("+ {}", self.display());
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", self.program.to_string_lossy()))?;
        let mut kept = String::new();
        if let Some(pipe) = child.stderr.take() {
            let mut stderr = std::io::stderr().lock();
            for line in BufReader::new(pipe).lines() {
                let line = line?;
                writeln!(stderr, "{line}")?;
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        Ok((child.wait()?.success(), kept))
    }

    /// Run quietly and return stdout; fail unless it exits with 0.
    pub fn output(&self) -> Result<String> {
        let out = self
            .command()
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot start `{}`: {e}", self.program.to_string_lossy()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "command failed ({}): {}\n{}",
                out.status,
                self.display(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            )
            .into())
        }
    }

    /// Run quietly and keep both streams: whether it exited with 0, stdout, stderr.
    pub fn capture(&self) -> Result<(bool, String, String)> {
        let out = self
            .command()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot start `{}`: {e}", self.program.to_string_lossy()))?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Run quietly; true when it started and exited with 0.
    pub fn succeeds(&self) -> bool {
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Whether `program` is found on `PATH` (or is an existing path).
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let cmd = Cmd::new("cargo")
            .args(["build", "--features", "a b"])
            .env("RUSTFLAGS", "-C link-arg=-Tlink.x");
        assert_eq!(
            cmd.display(),
            "RUSTFLAGS='-C link-arg=-Tlink.x' cargo build --features 'a b'"
        );
    }
}
