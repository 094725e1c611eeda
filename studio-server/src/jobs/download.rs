// SPDX-License-Identifier: MPL-2.0
//! `video_download`: media from a web address. yt-dlp (a program, one run per job, never
//! through a shell) fetches it into a fresh work folder; the file then goes through the same
//! intake as an upload ([`crate::intake`]), so imports are refused for the same reasons.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;

use super::queue::JobRow;
use super::worker::{Handler, JobContext};
use crate::intake::{self, clean_name, Incoming, IntakeError};
use crate::storage::{Storage, TempFile};

/// Longest URL an import takes, in characters.
pub const MAX_URL_CHARS: usize = 2048;

/// The yt-dlp release `scripts/setup.sh` installs.
pub const YTDLP_VERSION: &str = "2026.10.26";

/// yt-dlp prints one such line per progress update (`NA` for what it does not know).
const PROGRESS_TEMPLATE: &str = "download:reenact-progress %(progress.downloaded_bytes)s %(progress.total_bytes)s \
                                 %(progress.total_bytes_estimate)s";

/// Written by yt-dlp into the work folder once the file is complete.
const INFO_FILE: &str = "info.json";

/// What a `video_download` job is given. The limits are the API server's when the import was
/// asked for, so a worker in another process applies the same ones.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    pub url: String,
    /// The upload limit in bytes: imports obey the same one as uploads.
    pub max_bytes: u64,
    /// The owner's storage quota in bytes.
    pub quota_bytes: u64,
    /// Whether the address may lead to loopback, private or link-local hosts (set by the
    /// server's `imports_allow_private`, never by the user).
    #[serde(default)]
    pub allow_private: bool,
}

/// Checks an address to import: http or https, with a host, at most [`MAX_URL_CHARS`].
/// Other schemes (`file:`, `ftp:`, `data:` ...) would make the server read what it must not.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("url: at most {MAX_URL_CHARS} characters"));
    }
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    if scheme != "http" && scheme != "https" {
        let got = if scheme.is_empty() { "no scheme".to_string() } else { format!("`{scheme}:`") };
        return Err(format!("url: only http:// and https:// addresses can be imported (got {got})"));
    }
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("url: not a valid address ({e})"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err("url: the address names no host".into());
    }
    Ok(())
}

/// Checks that the host of `url` (already through [`check_url`]) resolves to public addresses
/// only, unless `allow_private`: an import must not make the server fetch from itself, its
/// network or a cloud metadata service. Blocks on the system resolver.
///
/// This checks the address given, not the redirects yt-dlp follows; a server reaching a
/// private network it must not expose needs an egress firewall as well.
pub fn check_host(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("url: not a valid address ({e})"))?;
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let addresses = (host, port).to_socket_addrs().map_err(|e| format!("url: cannot resolve `{host}` ({e})"))?;
    for address in addresses {
        if !is_public(address.ip()) {
            return Err(format!(
                "url: `{host}` is {}, a loopback, private or link-local address; imports reach public addresses only",
                address.ip()
            ));
        }
    }
    Ok(())
}

/// Whether `ip` is an ordinary Internet address.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (64..128).contains(&b); // carrier-grade NAT
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || shared
                || a == 0
                || a >= 240)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                let unique_local = first & 0xfe00 == 0xfc00;
                let link_local = first & 0xffc0 == 0xfe80;
                !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
            }
        },
    }
}

/// Runs `video_download` jobs.
pub(super) struct VideoDownload {
    pub(super) db: AnyPool,
    pub(super) storage: Arc<Storage>,
    pub(super) runtime: tokio::runtime::Handle,
}

impl Handler for VideoDownload {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let params: DownloadParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        check_url(&params.url).map_err(|e| format!("params.{e}"))?;
        // Again here: the name may resolve elsewhere by now.
        check_host(&params.url, params.allow_private).map_err(|e| format!("params.{e}"))?;
        let project_id = job.project_id.clone().ok_or("project_id: an import is stored in a project")?;
        let work = self.storage.temp_path().with_extension("dir");
        let result = std::fs::create_dir_all(&work)
            .map_err(|e| format!("work folder: {e}"))
            .and_then(|()| fetch(ytdlp_program(), &params, &work, ctx))
            .and_then(|fetched| {
                ctx.progress(92.0, "checking");
                self.store(job, project_id, &params, fetched)
            });
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

impl VideoDownload {
    fn store(
        &self,
        job: &JobRow,
        project_id: String,
        params: &DownloadParams,
        fetched: Fetched,
    ) -> Result<serde_json::Value, String> {
        let incoming = Incoming {
            owner_id: job.owner_id.clone(),
            project_id,
            name: clean_name(&format!("{}.{}", fetched.title, fetched.ext)),
            file: TempFile::new(fetched.file),
            bytes: fetched.bytes,
        };
        let clip = self
            .runtime
            .block_on(intake::accept(&self.db, &self.storage, params.quota_bytes, incoming))
            .map_err(|e| match e {
                IntakeError::NotMedia(cause) => format!("not a video: {cause}"),
                other => other.to_string(),
            })?;
        Ok(serde_json::json!({
            "clip_id": clip.id,
            "title": fetched.title,
            "name": clip.original_name,
            "duration_s": clip.duration_s,
            "width": clip.width,
            "height": clip.height,
            "bytes": clip.bytes,
            "url": params.url,
        }))
    }
}

/// The file yt-dlp left in the work folder, and what it said about it.
#[derive(Debug)]
struct Fetched {
    file: PathBuf,
    title: String,
    ext: String,
    bytes: u64,
}

/// yt-dlp's own account of the file (written by `--print-to-file`).
#[derive(Debug, Deserialize)]
struct Info {
    title: Option<String>,
    ext: Option<String>,
    filepath: PathBuf,
}

/// Runs `program` (yt-dlp) on `params.url` into `work`, reporting progress, until it ends,
/// the job is cancelled, or the file grows past the limit (yt-dlp itself only checks a
/// size the server announces).
fn fetch(mut program: Command, params: &DownloadParams, work: &Path, ctx: &JobContext) -> Result<Fetched, String> {
    program
        .args(["--ignore-config", "--no-cache-dir", "--no-playlist", "--newline"])
        .args(["--progress-template", PROGRESS_TEMPLATE])
        .args(["--max-filesize", &params.max_bytes.to_string()])
        .args(["--output", "media.%(ext)s"])
        .args(["--print-to-file", "after_move:%(.{title,ext,filepath})j", INFO_FILE])
        .args(["--socket-timeout", "30"])
        .arg("--")
        .arg(&params.url)
        // The work folder as the current one keeps its path out of yt-dlp's templates.
        .current_dir(work)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ctx.progress(0.0, "downloading");
    let mut child = program.spawn().map_err(|e| not_installed(&program, e))?;
    let run = watch(&mut child, params.max_bytes, ctx);
    let status = child.wait().map_err(|e| format!("yt-dlp: {e}"))?;
    if run.cancelled {
        return Err("cancelled".into());
    }
    if run.too_large {
        return Err(too_large(params.max_bytes));
    }
    if !status.success() {
        let why = run.error.or(run.last_line).unwrap_or_else(|| format!("yt-dlp ended with {status}"));
        return Err(format!("download failed: {why}"));
    }
    downloaded(work, params.max_bytes)
}

/// The file yt-dlp reported in the work folder, if it is within `max_bytes`.
fn downloaded(work: &Path, max_bytes: u64) -> Result<Fetched, String> {
    let info = std::fs::read(work.join(INFO_FILE)).map_err(|_| "download failed: yt-dlp stored no file".to_string())?;
    let info: Info = serde_json::from_slice(&info).map_err(|e| format!("download failed: yt-dlp's report: {e}"))?;
    // The output template puts the file straight into the work folder.
    let name = info.filepath.file_name().filter(|n| *n != INFO_FILE).ok_or("download failed: yt-dlp named no file")?;
    let file = work.join(name);
    let bytes = std::fs::metadata(&file).map_err(|e| format!("download failed: {e}"))?.len();
    if bytes > max_bytes {
        return Err(too_large(max_bytes));
    }
    let title = info.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "import".into());
    Ok(Fetched { file, title, ext: info.ext.unwrap_or_else(|| "bin".into()), bytes })
}

/// One line of yt-dlp's output.
enum Line {
    Out(String),
    Err(String),
}

/// What yt-dlp's output said about its run.
#[derive(Debug, Default)]
struct Run {
    /// Its first `ERROR:` line, in plain words.
    error: Option<String>,
    /// The last other line on stderr (a Python traceback ends with the cause).
    last_line: Option<String>,
    too_large: bool,
    cancelled: bool,
}

/// Reads yt-dlp's output until it closes; kills yt-dlp on cancellation or when the file
/// passes `max_bytes`.
fn watch(child: &mut Child, max_bytes: u64, ctx: &JobContext) -> Run {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        forward(out, tx.clone(), Line::Out);
    }
    if let Some(err) = child.stderr.take() {
        forward(err, tx, Line::Err);
    }
    let mut run = Run::default();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Line::Out(line)) => run.read_out(&line, max_bytes, ctx),
            Ok(Line::Err(line)) => run.read_err(&line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        run.cancelled |= ctx.cancel_token().is_cancelled();
        if run.cancelled || run.too_large {
            // Readers end when the pipes close; a helper yt-dlp started may hold them longer.
            let _ = child.kill();
            break;
        }
    }
    run
}

/// Sends each line of `stream` (lossy UTF-8, without line ends) until it closes.
fn forward(stream: impl Read + Send + 'static, tx: mpsc::Sender<Line>, wrap: fn(String) -> Line) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
            // `\r` starts some of yt-dlp's status lines, even with --newline.
            let line = String::from_utf8_lossy(&line).trim_matches(['\r', ' ']).to_string();
            if tx.send(wrap(line)).is_err() {
                break;
            }
        }
    });
}

impl Run {
    fn read_out(&mut self, line: &str, max_bytes: u64, ctx: &JobContext) {
        if line.contains("File is larger than max-filesize") {
            self.too_large = true;
        }
        let Some(figures) = line.strip_prefix("reenact-progress ") else { return };
        let numbers: Vec<Option<f64>> = figures.split(' ').map(|n| n.parse().ok()).collect();
        let &[Some(done), total, estimate] = numbers.as_slice() else { return };
        if done > max_bytes as f64 {
            self.too_large = true;
        }
        if let Some(total) = total.or(estimate).filter(|t| *t > 0.0) {
            ctx.progress((done / total).clamp(0.0, 1.0) * 90.0, "downloading");
        }
    }

    fn read_err(&mut self, line: &str) {
        if let Some(error) = line.strip_prefix("ERROR: ") {
            self.error.get_or_insert_with(|| plain_error(error));
        } else if !line.is_empty() && !line.starts_with("WARNING: ") {
            self.last_line = Some(line.to_string());
        }
    }
}

/// yt-dlp's error without its `[extractor] id:` prefix and the Python exception behind it:
/// `[generic] x: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError ..>)`
/// becomes `Unable to download webpage: HTTP Error 404: Not Found`.
fn plain_error(error: &str) -> String {
    let mut text = error;
    if let Some((_, rest)) = text.strip_prefix('[').and_then(|t| t.split_once("] ")) {
        text = rest;
        if let Some((id, rest)) = text.split_once(": ") {
            if !id.contains(' ') {
                text = rest;
            }
        }
    }
    let text = text.split(" (caused by ").next().unwrap_or(text).trim();
    if text.starts_with("Unsupported URL") {
        format!("no video found at this address ({text})")
    } else {
        text.to_string()
    }
}

fn too_large(max_bytes: u64) -> String {
    format!("too large: larger than the upload limit of {} MB", max_bytes as f64 / 1e6)
}

/// The reason a spawn failed; when the program is missing, how to install it.
fn not_installed(program: &Command, err: std::io::Error) -> String {
    if err.kind() != std::io::ErrorKind::NotFound {
        return format!("yt-dlp could not start: {err}");
    }
    format!(
        "yt-dlp is not installed (`{}` not found): run scripts/setup.sh, which installs yt-dlp {YTDLP_VERSION} \
         into ~/.local/share/reenact/tools/yt-dlp, or set REENACT_YTDLP to a yt-dlp program",
        program.get_program().to_string_lossy()
    )
}

/// yt-dlp as configured: `REENACT_YTDLP` (a program), else the copy `scripts/setup.sh`
/// installs (run by `python3` with `PYTHONPATH` set to it), else `yt-dlp` on `PATH`.
fn ytdlp_program() -> Command {
    if let Some(program) = std::env::var_os("REENACT_YTDLP").filter(|p| !p.is_empty()) {
        return Command::new(program);
    }
    if let Some(dir) = tools_dir().filter(|d| d.join("yt_dlp").is_dir()) {
        let mut python = Command::new("python3");
        python.args(["-m", "yt_dlp"]).env("PYTHONPATH", dir);
        return python;
    }
    Command::new("yt-dlp")
}

/// `$XDG_DATA_HOME/reenact/tools/yt-dlp`, else `~/.local/share/reenact/tools/yt-dlp`.
fn tools_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))?;
    Some(data.join("reenact/tools/yt-dlp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_addresses_are_imported() {
        assert_eq!(check_url("https://example.org/take.mp4"), Ok(()));
        assert_eq!(check_url("HTTP://127.0.0.1:8080/a?b=c"), Ok(()));
        for bad in ["file:///etc/passwd", "ftp://example.org/a.mp4", "data:video/mp4;base64,AAAA", "example.org/a"] {
            let err = check_url(bad).unwrap_err();
            assert!(err.starts_with("url: only http:// and https://"), "{bad}: {err}");
        }
        assert!(check_url("http:///nohost").is_err());
        assert!(check_url("http://exa mple.org/").is_err());
        assert!(check_url(&format!("https://example.org/{}", "a".repeat(MAX_URL_CHARS))).unwrap_err().contains("2048"));
    }

    #[test]
    fn errors_are_plain_words() {
        assert_eq!(
            plain_error(
                "[generic] missing: Unable to download webpage: HTTP Error 404: File not found \
                 (caused by <HTTPError 404: File not found>)"
            ),
            "Unable to download webpage: HTTP Error 404: File not found"
        );
        assert_eq!(
            plain_error("Unsupported URL: http://x/"),
            "no video found at this address (Unsupported URL: http://x/)"
        );
    }

    #[test]
    fn only_internet_addresses_are_public() {
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "100.128.0.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        let private = [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ];
        for ip in private {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(check_host("http://127.0.0.1/a.mp4", true), Ok(()), "allowed by the setting");
    }

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let params = DownloadParams {
            url: "http://127.0.0.1:9/a.mp4".into(),
            max_bytes: 1,
            quota_bytes: 1,
            allow_private: true,
        };
        let work = tempfile::tempdir().unwrap();
        let err = fetch(Command::new("/nonexistent/yt-dlp"), &params, work.path(), &JobContext::default()).unwrap_err();
        assert!(err.contains("scripts/setup.sh") && err.contains("REENACT_YTDLP"), "{err}");
    }
}
