// SPDX-License-Identifier: MPL-2.0
//! `video_download`: media from a web address. yt-dlp (a program, one run per job, never
//! through a shell) fetches it into a fresh work folder; the file then goes through the same
//! intake as an upload ([`crate::intake`]), so imports are refused for the same reasons.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::egress::{self, Policy, Proxy};
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

/// What a user is told when the egress policy stopped an import, wherever it stopped it
/// (the address given, a redirect, a fragment): which address it was, and what it answered,
/// stays in the log, so imports cannot map the server's network.
pub const NOT_ALLOWED: &str = "the address is not allowed: imports reach public web addresses (ports 80 and 443) only";

/// Checks the host of `url` (already through [`check_url`]) against `policy`, every address
/// it resolves to, so that an import is refused before any job when it names the server
/// itself, its network or a cloud metadata service. The proxy each download goes through
/// checks every later connection the same way (see [`egress`]).
pub async fn check_host(url: &str, policy: &Policy) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("url: not a valid address ({e})"))?;
    let host = uri.host().unwrap_or_default();
    let https = uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https"));
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok();
    if *policy == Policy::Private && !literal {
        // Any host name may lead somewhere allowed: the proxy checks each address it is
        // given when the download runs, without a lookup now.
        return Ok(());
    }
    egress::resolve(policy, host, port).await.map(drop).map_err(|e| {
        tracing::info!(url, error = %e, "import refused");
        format!("url: {NOT_ALLOWED}")
    })
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
        let policy = Policy::for_imports(params.allow_private);
        // Again here, to fail early: the name may resolve elsewhere by now.
        self.runtime.block_on(check_host(&params.url, &policy)).map_err(|e| format!("params.{e}"))?;
        let project_id = job.project_id.clone().ok_or("project_id: an import is stored in a project")?;
        let proxy = self.runtime.block_on(Proxy::start(policy)).map_err(|e| format!("import proxy: {e}"))?;
        let work = self.storage.temp_path().with_extension("dir");
        let result = std::fs::create_dir_all(&work)
            .map_err(|e| format!("work folder: {e}"))
            .and_then(|()| fetch(ytdlp_program(), &params.url, params.max_bytes, &proxy, &work, ctx))
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
pub struct Fetched {
    pub file: PathBuf,
    pub title: String,
    pub ext: String,
    pub bytes: u64,
}

/// yt-dlp's own account of the file (written by `--print-to-file`).
#[derive(Debug, Deserialize)]
struct Info {
    title: Option<String>,
    ext: Option<String>,
    filepath: PathBuf,
}

/// The formats yt-dlp may choose: those it fetches over http(s) itself (HLS and DASH through
/// its own fragment downloader). RTMP, RTSP and the like would connect around the proxy.
const WEB_FORMAT: &str = "[protocol~='^(https?|m3u8(_native)?|http_dash_segments)$']";

/// What a single video passes: not live (an endless ffmpeg run), not an entry of a playlist
/// of several (one address, one clip). Either filter is enough (yt-dlp ORs repeated ones).
const ONE_VIDEO: [&str; 2] = ["!is_live & !playlist_id", "!is_live & playlist_count<2"];

/// Why a playlist or live address is refused.
const ONE_VIDEO_ONLY: &str = "the address is a playlist of several videos or a live stream; import one video at a time";

/// Runs `program` (yt-dlp) on `url` into `work` with every connection through `proxy`,
/// reporting progress, until it ends, the job is cancelled, or the file grows past
/// `max_bytes` (yt-dlp itself only checks a size the server announces). yt-dlp runs in a
/// process group of its own, which is killed whole: no ffmpeg it started outlives it.
pub fn fetch(
    mut program: Command,
    url: &str,
    max_bytes: u64,
    proxy: &Proxy,
    work: &Path,
    ctx: &JobContext,
) -> Result<Fetched, String> {
    let format = format!("bv*{WEB_FORMAT}+ba{WEB_FORMAT}/b{WEB_FORMAT}");
    program
        .args(["--ignore-config", "--no-cache-dir", "--no-playlist", "--playlist-items", "1", "--newline"])
        .args(["--proxy", &proxy.url()])
        // yt-dlp's own HLS/DASH downloader, through the proxy, rather than ffmpeg's.
        .args(["--downloader", "native", "--abort-on-unavailable-fragments"])
        .args(["--format", &format])
        .args(["--match-filters", ONE_VIDEO[0], "--match-filters", ONE_VIDEO[1]])
        .args(["--progress-template", PROGRESS_TEMPLATE])
        .args(["--max-filesize", &max_bytes.to_string()])
        .args(["--output", "media.%(ext)s"])
        .args(["--print-to-file", "after_move:%(.{title,ext,filepath})j", INFO_FILE])
        .args(["--socket-timeout", "30"])
        .arg("--")
        .arg(url)
        // The work folder as the current one keeps its path out of yt-dlp's templates.
        .current_dir(work)
        .env("PYTHONUNBUFFERED", "1")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Whatever yt-dlp starts (ffmpeg when it must) finds the proxy in its environment too.
    for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        program.env(name, proxy.url());
    }
    program.env_remove("no_proxy").env_remove("NO_PROXY");
    ctx.progress(0.0, "downloading");
    let mut child = program.spawn().map_err(|e| not_installed(&program, e))?;
    let group = Pid::from_raw(child.id() as i32);
    let run = watch(&mut child, group, max_bytes, ctx);
    end_group(group);
    let status = child.wait().map_err(|e| format!("yt-dlp: {e}"))?;
    if run.cancelled {
        return Err("cancelled".into());
    }
    if run.too_large {
        return Err(too_large(max_bytes));
    }
    if !status.success() {
        tracing::warn!(url, %status, error = ?run.error, last_line = ?run.last_line, "import: yt-dlp failed");
        return Err(format!("download failed: {}", failure(&run, proxy)));
    }
    if run.filtered {
        tracing::info!(url, "import: a playlist or a live stream");
        return Err(format!("download failed: {ONE_VIDEO_ONLY}"));
    }
    downloaded(work, max_bytes)
}

/// What the user is told of a failed run. Network errors and what yt-dlp says about them
/// name hosts, addresses and ports (`No route to host`, `Connection refused`) and are only
/// logged; the proxy's tally says whether the policy was the cause.
fn failure(run: &Run, proxy: &Proxy) -> String {
    let error = run.error.as_deref().unwrap_or_default();
    if proxy.tally().refused() > 0 {
        NOT_ALLOWED.into()
    } else if run.filtered {
        ONE_VIDEO_ONLY.into()
    } else if proxy.tally().failed() > 0 {
        "the address could not be reached".into()
    } else if let Some(code) = http_status(error) {
        format!("the address answered HTTP error {code}")
    } else if error.contains("Unsupported URL") {
        "no video found at this address".into()
    } else {
        "the address could not be downloaded".into()
    }
}

/// The status in yt-dlp's `HTTP Error 404: Not Found`.
fn http_status(error: &str) -> Option<u16> {
    let rest = &error[error.find("HTTP Error ")? + "HTTP Error ".len()..];
    rest.get(..3)?.parse().ok().filter(|code| (100..600).contains(code))
}

/// Ends what is left of yt-dlp's process group once yt-dlp itself has ended (or was
/// killed). yt-dlp is waited for without being reaped, so that its id still names the
/// group and cannot be another's by then.
fn end_group(group: Pid) {
    if let Err(e) = waitid(Id::Pid(group), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
        tracing::warn!(error = %e, "import: waiting for yt-dlp");
    }
    // ESRCH: nothing is left.
    let _ = killpg(group, Signal::SIGKILL);
}

/// Whether yt-dlp has ended, without reaping it.
fn has_ended(group: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    !matches!(waitid(Id::Pid(group), flags), Ok(WaitStatus::StillAlive))
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
    /// Its first `ERROR:` line, in plain words (for the log).
    error: Option<String>,
    /// The last other line on stderr (a Python traceback ends with the cause).
    last_line: Option<String>,
    /// An entry did not pass [`ONE_VIDEO`].
    filtered: bool,
    too_large: bool,
    cancelled: bool,
}

/// Reads yt-dlp's output until it closes; kills yt-dlp's process group on cancellation or
/// when the file passes `max_bytes`, and what yt-dlp left behind once it has ended (a child
/// holding the pipes would keep them open).
fn watch(child: &mut Child, group: Pid, max_bytes: u64, ctx: &JobContext) -> Run {
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
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if has_ended(group) {
                    let _ = killpg(group, Signal::SIGKILL);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        run.cancelled |= ctx.cancel_token().is_cancelled();
        if run.cancelled || run.too_large {
            let _ = killpg(group, Signal::SIGKILL);
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
        if line.contains("does not pass filter") {
            self.filtered = true;
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
            self.error.get_or_insert_with(|| error.to_string());
        } else if !line.is_empty() && !line.starts_with("WARNING: ") {
            self.last_line = Some(line.to_string());
        }
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
pub fn ytdlp_program() -> Command {
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
    fn http_errors_keep_only_their_status() {
        let error = "[generic] missing: Unable to download webpage: HTTP Error 404: File not found \
                     (caused by <HTTPError 404: File not found>)";
        assert_eq!(http_status(error), Some(404));
        assert_eq!(http_status("Unable to download webpage: <urlopen error [Errno 113] No route to host>"), None);
        assert_eq!(http_status("HTTP Error 4"), None);
    }

    #[tokio::test]
    async fn hosts_are_checked_without_saying_where_they_lead() {
        // IP literals: nothing is looked up or sent.
        assert_eq!(check_host("http://127.0.0.1:9/a.mp4", &Policy::Private).await, Ok(()), "allowed by the setting");
        for url in [
            "http://127.0.0.1/a.mp4",
            "http://[::ffff:10.1.2.3]/a.mp4",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
            "https://[2002:c0a8:0101::1]/a.mp4",
            "http://93.184.216.34:8080/a.mp4",
        ] {
            let err = check_host(url, &Policy::Public).await.unwrap_err();
            assert_eq!(err, format!("url: {NOT_ALLOWED}"), "{url}");
        }
    }

    #[tokio::test]
    async fn a_missing_program_says_how_to_install_it() {
        let proxy = Proxy::start(Policy::Private).await.unwrap();
        let work = tempfile::tempdir().unwrap();
        let program = Command::new("/nonexistent/yt-dlp");
        let err =
            fetch(program, "http://127.0.0.1:9/a.mp4", 1, &proxy, work.path(), &JobContext::default()).unwrap_err();
        assert!(err.contains("scripts/setup.sh") && err.contains("REENACT_YTDLP"), "{err}");
    }
}
