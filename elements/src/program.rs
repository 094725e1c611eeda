// SPDX-License-Identifier: MPL-2.0
//! Other programs run as filters (espeak-ng, Apertium): text in on stdin, what they write
//! on stdout back. They are run, never linked, so their licences stay theirs.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, ExitStatus, Stdio};

/// Why a filter run gave no output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be started (`NotFound` when it is not installed).
    #[error("cannot start it: {0}")]
    Start(std::io::Error),
    /// Its input could not be written, or its output read.
    #[error("cannot talk to it: {0}")]
    Pipe(std::io::Error),
    /// It ran and failed; what it said on stderr.
    #[error("it exited with {status}: {stderr}")]
    Failed { status: ExitStatus, stderr: String },
}

/// What `program` run with `args` writes to stdout for `input` on its stdin. The input is
/// written from another thread: a long one could otherwise fill the output pipe before the
/// program has read all of it.
pub fn output(program: impl AsRef<OsStr>, args: &[&str], input: &str) -> Result<Vec<u8>, RunError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::Start)?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(RunError::Pipe)?;
    writer
        .join()
        .map_err(|_| RunError::Pipe(std::io::Error::other("the writer thread stopped")))?
        .map_err(RunError::Pipe)?;
    if !out.status.success() {
        return Err(RunError::Failed {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().into(),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_gets_its_input_and_its_failure_is_told() {
        let long = "x".repeat(1 << 20);
        assert_eq!(output("cat", &[], &long).unwrap().len(), long.len(), "more than a pipe holds, both ways");
        match output("sh", &["-c", "echo no >&2; exit 3"], "") {
            Err(RunError::Failed { status, stderr }) => assert!(status.code() == Some(3) && stderr == "no"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(output("no-such-program-here", &[], ""), Err(RunError::Start(e)) if e.kind() == std::io::ErrorKind::NotFound)
        );
    }
}
