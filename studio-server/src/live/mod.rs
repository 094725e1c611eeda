// SPDX-License-Identifier: MPL-2.0
//! Live sessions and their WebRTC viewers.
//!
//! A session is one running [`LiveRunner`]. Each of its encoded streams is
//! written to one shared `TrackLocalStaticSample`: webrtc-rs packetises a
//! sample once and sends the packets to every peer connection the track is
//! bound to, so viewers 2..N cost no encode and no packetisation, and a
//! viewer that stops reading only loses its own packets (UDP sends do not
//! block). A viewer's picture starts at a keyframe asked of the shared
//! encoder when it connects, or when it reports a lost picture (PLI/FIR).

pub mod consent;
pub mod kiosk;
pub mod network;
pub mod preview;
mod sdp;
pub mod trickle;
mod viewer;
mod whip;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reenact_engine::live::{Fanout, LiveOptions, LiveRunner, LiveStats, Stream};
use reenact_engine::PreviewRunner;
use serde::Serialize;
use tokio::sync::mpsc;
use webrtc::media::Sample;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

pub use sdp::OfferError;
use viewer::Viewer;
pub use viewer::{ViewerReport, ViewerSummary};

/// Viewers one session serves; more is a job for a media server (see the README).
pub const MAX_VIEWERS: usize = 32;
/// Seats of `MAX_VIEWERS` only the owner may take, so a full house never locks the owner out.
pub const OWNER_SEATS: usize = 2;
/// Viewers one address may hold in one session (a kiosk or a few browsers of one household).
pub const VIEWERS_PER_ADDRESS: usize = 4;
/// Shows one user may run at once unless the server says otherwise.
pub const DEFAULT_SHOWS_PER_USER: usize = 2;
/// Encoded frames waiting for a track writer before new ones are dropped.
const PUMP_QUEUE: usize = 64;
/// How often a visitor-consent show checks whether its visitor has left.
const VISIT_CHECK: Duration = Duration::from_millis(250);

/// Why a session or viewer request failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no live session `{0}`")]
    UnknownSession(String),
    #[error("no viewer `{0}` in this session")]
    UnknownViewer(String),
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error("this session already has all the viewers it serves; publish to a media server for more")]
    Full,
    #[error("this address already watches this session {VIEWERS_PER_ADDRESS} times")]
    AddressFull,
    #[error("at most {0} live shows at once per account; stop one first")]
    ShowLimit(usize),
    #[error("{0}")]
    Engine(#[from] reenact_engine::EngineError),
    #[error("WebRTC failed: {0}")]
    WebRtc(String),
    #[error("a presenter already publishes to this show; end that publisher (DELETE its resource) first")]
    PublisherConnected,
    #[error("this show's source is `{0}`, not the browser: start the show with source `browser` to publish to it")]
    NotBrowser(String),
    #[error("no publisher `{0}` in this session")]
    UnknownPublisher(String),
    #[error(transparent)]
    Trickle(#[from] trickle::TrickleError),
    #[error("a newer preview of yours replaced this one while it started")]
    PreviewReplaced,
}

impl From<webrtc::Error> for LiveError {
    fn from(err: webrtc::Error) -> Self {
        LiveError::WebRtc(err.to_string())
    }
}

/// What the users of a multi-user server may do with live shows.
#[derive(Debug, Clone)]
pub struct LivePolicy {
    /// Shows one user may run at once.
    pub shows_per_user: usize,
    /// Emails of the accounts that may open the server's cameras (`camera:` sources);
    /// nobody else may, as the cameras are the machine's, not the users'.
    pub camera_users: Vec<String>,
    /// STUN/TURN servers, public address and UDP ports of the WebRTC connections.
    pub network: Arc<network::LiveNetwork>,
}

impl Default for LivePolicy {
    fn default() -> Self {
        LivePolicy { shows_per_user: DEFAULT_SHOWS_PER_USER, camera_users: Vec::new(), network: Arc::default() }
    }
}

impl LivePolicy {
    pub fn may_open_cameras(&self, email: &str) -> bool {
        self.camera_users.iter().any(|allowed| allowed.eq_ignore_ascii_case(email))
    }
}

/// Every live session of this process.
#[derive(Debug, Default)]
pub struct LiveHub {
    sessions: Mutex<HashMap<String, Arc<LiveSession>>>,
    pub policy: LivePolicy,
    /// Running (or starting) shows per owner: reserved before a graph is built, released
    /// when the show is stopped, so parallel starts cannot pass the limit.
    shows: Mutex<HashMap<String, usize>>,
    /// Kiosk ids served even while their show is (re)starting: the installations'.
    kiosks: Mutex<HashSet<String>>,
    /// Project previews, one per user.
    previews: preview::Previews,
}

impl LiveHub {
    pub fn new(policy: LivePolicy) -> Self {
        LiveHub { policy, ..LiveHub::default() }
    }

    /// Starts a session (the graph is built on a blocking thread) and returns it. A user's
    /// show counts against `policy.shows_per_user` until it is stopped.
    pub async fn start(
        &self,
        options: LiveOptions,
        owner: Option<String>,
        project: Option<String>,
    ) -> Result<Arc<LiveSession>, LiveError> {
        self.start_with(options, owner, project, None).await
    }

    /// [`LiveHub::start`] for a show that asks its visitors for consent (`consent`).
    pub async fn start_with(
        &self,
        options: LiveOptions,
        owner: Option<String>,
        project: Option<String>,
        consent: Option<consent::VisitorGate>,
    ) -> Result<Arc<LiveSession>, LiveError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let Some(user) = owner.clone() else {
            return self.start_as(id, options, None, project, consent).await;
        };
        self.reserve_show(&user)?;
        match self.start_as(id, options, owner, project, consent).await {
            Ok(session) => {
                session.counted.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(session)
            }
            Err(err) => {
                self.release_show(&user);
                Err(err)
            }
        }
    }

    fn reserve_show(&self, user: &str) -> Result<(), LiveError> {
        let mut shows = self.shows.lock().unwrap_or_else(PoisonError::into_inner);
        let running = shows.entry(user.to_owned()).or_default();
        if *running >= self.policy.shows_per_user {
            return Err(LiveError::ShowLimit(self.policy.shows_per_user));
        }
        *running += 1;
        Ok(())
    }

    fn release_show(&self, user: &str) {
        let mut shows = self.shows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = shows.get_mut(user) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                shows.remove(user);
            }
        }
    }

    /// Closes a session taken out of the map and gives its owner's show back.
    async fn end(&self, session: Arc<LiveSession>) {
        if session.counted.swap(false, std::sync::atomic::Ordering::SeqCst) {
            if let Some(owner) = &session.owner {
                self.release_show(owner);
            }
        }
        session.close().await;
    }

    /// Marks `id` as a kiosk that exists even while no show runs under it.
    pub fn expect_kiosk(&self, id: &str) {
        self.kiosks.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned());
    }

    /// Whether `/kiosk/{id}` names a show: a running one or an installation's.
    pub fn kiosk_known(&self, id: &str) -> bool {
        self.get(id).is_ok() || self.kiosks.lock().unwrap_or_else(PoisonError::into_inner).contains(id)
    }

    /// Starts a session under a chosen `id` (an installation's name), replacing any session of
    /// that id that is still registered. With `consent` the camera starts closed, whatever
    /// `options` say.
    pub async fn start_as(
        &self,
        id: String,
        mut options: LiveOptions,
        owner: Option<String>,
        project: Option<String>,
        consent: Option<consent::VisitorGate>,
    ) -> Result<Arc<LiveSession>, LiveError> {
        options.camera_closed |= consent.is_some();
        let preset = options.preset.name.clone();
        let runner = tokio::task::spawn_blocking(move || LiveRunner::start(options))
            .await
            .map_err(|e| LiveError::WebRtc(format!("live start panicked: {e}")))??;
        let network = Arc::clone(&self.policy.network);
        let mut session = LiveSession::new(id.clone(), owner, preset, runner, network);
        session.project = project;
        session.consent = consent;
        let session = Arc::new(session);
        if session.consent.is_some() {
            tokio::spawn(watch_visits(Arc::downgrade(&session)));
        }
        let replaced = self.sessions.lock().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::clone(&session));
        if let Some(old) = replaced {
            self.end(old).await;
        }
        Ok(session)
    }

    pub fn get(&self, id: &str) -> Result<Arc<LiveSession>, LiveError> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(id).cloned().ok_or_else(|| LiveError::UnknownSession(id.to_owned()))
    }

    /// Sessions of `owner` (all of them for `None`).
    pub fn list(&self, owner: Option<&str>) -> Vec<Arc<LiveSession>> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<_> =
            sessions.values().filter(|s| owner.is_none() || s.owner.as_deref() == owner).cloned().collect();
        list.sort_by_key(|s| s.started);
        list
    }

    /// Ends a session: its viewers are closed and the graph stopped.
    pub async fn stop(&self, id: &str) -> Result<(), LiveError> {
        let session = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .ok_or_else(|| LiveError::UnknownSession(id.to_owned()))?;
        self.end(session).await;
        Ok(())
    }

    /// Ends every session (server shutdown).
    pub async fn stop_all(&self) {
        let sessions: Vec<_> = self.sessions.lock().unwrap_or_else(PoisonError::into_inner).drain().collect();
        for (_, session) in sessions {
            self.end(session).await;
        }
        self.stop_previews().await;
    }
}

/// One live show and its viewers.
pub struct LiveSession {
    pub id: String,
    /// The user who started it; `None` for a `reenact live` session.
    pub owner: Option<String>,
    /// The project it was started for, if any.
    pub project: Option<String>,
    pub preset: String,
    pub started: SystemTime,
    /// The staff PIN of its kiosk screens.
    pub kiosk: kiosk::KioskLock,
    /// How its peer connections cross the network (the hub's settings).
    pub network: Arc<network::LiveNetwork>,
    /// Whether the show counts against its owner's limit (released once, when it ends).
    counted: std::sync::atomic::AtomicBool,
    runner: Arc<Mutex<Option<LiveRunner>>>,
    /// A project's preview plays through the same viewers in place of a live graph.
    preview: Mutex<Option<Arc<PreviewRunner>>>,
    tracks: Tracks,
    viewers: Mutex<HashMap<String, Arc<Viewer>>>,
    /// Viewer seats taken, by the viewers' addresses (taken before a viewer connects).
    seats: Mutex<Seats>,
    vp8: Mutex<Option<u64>>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    /// The presenter's browser, for a `browser` source (one at a time).
    publisher: Mutex<Option<Arc<whip::Publisher>>>,
    /// Visitor consent, for a show in visitor mode.
    pub consent: Option<consent::VisitorGate>,
    /// Commercial work: models and characters not cleared for it are refused when switched on.
    pub commercial: AtomicBool,
    /// Whether viewers get frames: false while a visitor-consent show waits for consent.
    on_air: Arc<AtomicBool>,
    /// H.264 frames handed to the viewers' track (none while off air).
    video_sent: Arc<AtomicU64>,
    /// The character files of a show started for a project, removed with the session.
    cast: std::sync::OnceLock<CastDir>,
    /// The recordings signed when the show ended, or why one could not be.
    signed: Mutex<Vec<Result<std::path::PathBuf, String>>>,
}

/// Signs a finished show's recordings with the process's identity; a failure is logged and
/// reported, never fatal (the recording itself is complete either way).
fn sign_recordings(record: &reenact_engine::live::ShowRecord, author: &str) -> Vec<Result<std::path::PathBuf, String>> {
    let signed = crate::credentials::process_identity()
        .and_then(|identity| crate::credentials::sign_live_recordings(identity, record, author));
    match signed {
        Ok(files) => files
            .into_iter()
            .map(|(file, _)| {
                tracing::info!(file = %file.display(), "live recording signed");
                Ok(file)
            })
            .collect(),
        Err(err) => {
            tracing::warn!(%err, "live recording not signed");
            vec![Err(err.to_string())]
        }
    }
}

/// A folder of character files written for one show; removed when the show is gone.
#[derive(Debug)]
pub struct CastDir(pub std::path::PathBuf);

impl Drop for CastDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("LiveSession").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The shared tracks, one per encoded stream.
#[derive(Clone)]
struct Tracks {
    h264: Arc<TrackLocalStaticSample>,
    vp8: Arc<TrackLocalStaticSample>,
    opus: Arc<TrackLocalStaticSample>,
}

/// What `GET /api/live/{id}` shows.
#[derive(Debug, Serialize)]
pub struct SessionSummary {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub preset: String,
    pub preview_url: String,
    pub whep_url: String,
    /// The link for kiosk screens (full screen, no controls).
    pub kiosk_url: String,
    /// Whether leaving its kiosks takes a staff PIN.
    pub kiosk_pin_set: bool,
    pub pipeline: Option<LiveStats>,
    pub viewers: Vec<ViewerSummary>,
    /// H.264 frames handed to the viewers so far (a visitor-consent show sends none before
    /// a visitor accepts).
    pub video_frames_sent: u64,
    /// Visitor consent: settings, whether a visitor is on air, visitors so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_consent: Option<consent::ConsentView>,
}

impl LiveSession {
    /// Keeps the show's character files until the show is gone.
    pub fn keep_cast(&self, cast: CastDir) {
        let _ = self.cast.set(cast);
    }

    /// Once the show has ended: each recording signed with Content Credentials, or why not.
    pub fn signed_recordings(&self) -> Vec<Result<std::path::PathBuf, String>> {
        self.signed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn new(
        id: String,
        owner: Option<String>,
        preset: String,
        runner: LiveRunner,
        network: Arc<network::LiveNetwork>,
    ) -> Self {
        let on_air = runner.camera_open();
        let mut session = LiveSession::serving(id, owner, preset, runner.encoded(), on_air, network);
        session.runner = Arc::new(Mutex::new(Some(runner)));
        session
    }

    /// A session whose viewers watch a project's preview.
    fn previewing(id: String, owner: String, runner: PreviewRunner, network: Arc<network::LiveNetwork>) -> Self {
        let session = LiveSession::serving(id, Some(owner), "preview".into(), runner.encoded(), true, network);
        *session.preview.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(runner));
        session
    }

    /// A session fed by `source`, no graph kept yet.
    fn serving(
        id: String,
        owner: Option<String>,
        preset: String,
        source: &Fanout,
        on_air: bool,
        network: Arc<network::LiveNetwork>,
    ) -> Self {
        let tracks = Tracks {
            h264: Arc::new(TrackLocalStaticSample::new(sdp::h264_capability(), "video".into(), "reenact".into())),
            vp8: Arc::new(TrackLocalStaticSample::new(sdp::vp8_capability(), "video".into(), "reenact".into())),
            opus: Arc::new(TrackLocalStaticSample::new(sdp::opus_capability(), "audio".into(), "reenact".into())),
        };
        let on_air = Arc::new(AtomicBool::new(on_air));
        let video_sent = Arc::new(AtomicU64::new(0));
        let pumps = vec![
            pump(source, Stream::H264, Arc::clone(&tracks.h264), Arc::clone(&on_air), Arc::clone(&video_sent)),
            pump(source, Stream::Opus, Arc::clone(&tracks.opus), Arc::clone(&on_air), Arc::default()),
        ];
        LiveSession {
            id,
            owner,
            project: None,
            preset,
            started: SystemTime::now(),
            kiosk: kiosk::KioskLock::default(),
            network,
            counted: std::sync::atomic::AtomicBool::new(false),
            seats: Mutex::default(),
            runner: Arc::default(),
            preview: Mutex::default(),
            tracks,
            viewers: Mutex::default(),
            vp8: Mutex::default(),
            pumps,
            publisher: Mutex::default(),
            consent: None,
            commercial: AtomicBool::new(false),
            cast: std::sync::OnceLock::new(),
            signed: Mutex::new(Vec::new()),
            on_air,
            video_sent,
        }
    }

    /// Runs `f` on whatever feeds the viewers (the live graph or the preview); `None` once
    /// the session is closed.
    fn with_source<T>(&self, f: impl FnOnce(&Fanout) -> T) -> Option<T> {
        if let Some(runner) = self.runner.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Some(f(runner.encoded()));
        }
        let preview = self.preview.lock().unwrap_or_else(PoisonError::into_inner).clone();
        preview.map(|p| f(p.encoded()))
    }

    /// The preview this session plays, if it is a preview.
    pub fn preview(&self) -> Option<Arc<PreviewRunner>> {
        self.preview.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Viewers connected now.
    pub fn viewer_count(&self) -> usize {
        self.viewers.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Runs `f` on the graph; `None` once the session is closed.
    pub fn with_runner<T>(&self, f: impl FnOnce(&LiveRunner) -> T) -> Option<T> {
        self.runner.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(f)
    }

    pub fn summary(&self) -> SessionSummary {
        self.summary_after(Duration::ZERO)
    }

    /// The summary with each viewer's latency over what it measured after its first `skip`
    /// (a benchmark's warm-up left out).
    pub fn summary_after(&self, skip: Duration) -> SessionSummary {
        let viewers = self.viewers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut viewers: Vec<ViewerSummary> = viewers.values().map(|v| v.summary(skip)).collect();
        viewers.sort_by(|a, b| a.id.cmp(&b.id));
        SessionSummary {
            id: self.id.clone(),
            project_id: self.project.clone(),
            preset: self.preset.clone(),
            preview_url: format!("/live/{}", self.id),
            whep_url: format!("/api/live/{}/whep", self.id),
            // The owner's kiosk link carries the consent key, in the fragment: never sent in
            // requests, so never in logs or `Referer`s.
            kiosk_url: match &self.consent {
                Some(gate) => format!("/kiosk/{}#consent={}", self.id, gate.key()),
                None => format!("/kiosk/{}", self.id),
            },
            kiosk_pin_set: self.kiosk.is_set(),
            pipeline: self.with_runner(LiveRunner::stats),
            viewers,
            video_frames_sent: self.video_sent.load(Ordering::Relaxed),
            visitor_consent: self.consent.as_ref().map(|gate| gate.view(true)),
        }
    }

    /// What the kiosk page needs to know about consent (anyone with the show's id).
    pub fn consent_view(&self) -> consent::ConsentView {
        match &self.consent {
            Some(gate) => gate.view(false),
            None => consent::ConsentView {
                required: false,
                open: true,
                settings: None,
                streamed: false,
                accepted_total: None,
            },
        }
    }

    /// A visitor accepts (`accept`) or ends the visit, on the kiosk holding `key`.
    pub fn visitor(&self, key: &str, accept: bool) -> Result<consent::ConsentView, consent::ConsentError> {
        let gate = self.consent.as_ref().ok_or(consent::ConsentError::NotVisitorMode)?;
        gate.check_key(key)?;
        gate.transition(accept, Instant::now(), |open| self.put_on_air(open));
        tracing::info!(session = %self.log_id(), accept, "visitor consent");
        Ok(gate.view(false))
    }

    /// Opens or closes the camera: the graph's gate and the viewers' pumps (called under the
    /// visit's lock; lock order: visit, then runner). Closing stops
    /// the pumps first and opening opens them last, so no viewer gets a frame of the camera
    /// while the graph still blanks it or after it closed.
    fn put_on_air(&self, open: bool) {
        if !open {
            self.on_air.store(false, Ordering::SeqCst);
        }
        self.with_runner(|runner| runner.set_camera_open(open));
        if open {
            self.on_air.store(true, Ordering::SeqCst);
        }
    }

    /// The id that names this session in logs: enough to tell sessions apart, too short to
    /// watch one (the id is the viewers' capability).
    pub fn log_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }

    /// Answers a WHEP offer from `address` (`owner`: the session's owner asks): returns the
    /// viewer's resource name (`ID.SECRET`, the secret being what later requests about the
    /// viewer must show) and the SDP answer.
    pub async fn add_viewer(
        self: &Arc<Self>,
        offer: String,
        address: IpAddr,
        owner: bool,
    ) -> Result<(String, String), LiveError> {
        self.seats.lock().unwrap_or_else(PoisonError::into_inner).take(address, owner)?;
        let added = self.connect_viewer(offer, address).await;
        if added.is_err() {
            self.seats.lock().unwrap_or_else(PoisonError::into_inner).free(address);
        }
        added
    }

    async fn connect_viewer(self: &Arc<Self>, offer: String, address: IpAddr) -> Result<(String, String), LiveError> {
        let wanted = sdp::choose(&offer)?;
        let video = match wanted.video {
            Stream::Vp8 => {
                self.open_vp8();
                Arc::clone(&self.tracks.vp8)
            }
            _ => Arc::clone(&self.tracks.h264),
        };
        let audio = wanted.audio.then(|| Arc::clone(&self.tracks.opus));
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let session = Arc::downgrade(self);
        let source = Arc::downgrade(self);
        let codec = wanted.video;
        let on_keyframe = move || {
            if let Some(session) = source.upgrade() {
                session.with_source(|source| source.request_keyframe(codec));
            }
        };
        let viewer_id = id.clone();
        let on_gone = move || {
            if let Some(session) = session.upgrade() {
                let viewer_id = viewer_id.clone();
                tokio::spawn(async move {
                    let _ = session.remove_viewer(&viewer_id).await;
                });
            }
        };
        let identity = viewer::Identity { id: id.clone(), secret: secret.clone(), address };
        let connected =
            Viewer::connect(identity, &self.network, offer, codec, video, audio, on_keyframe, on_gone).await;
        let (viewer, answer) = match connected {
            Ok(connected) => connected,
            Err(err) => {
                // The VP8 encoder opened for this viewer runs only while someone watches.
                if codec == Stream::Vp8 && !self.has_viewers(Stream::Vp8) {
                    self.close_vp8();
                }
                return Err(err);
            }
        };
        self.viewers.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), viewer);
        tracing::info!(session = %self.log_id(), viewer = %id, ?codec, "viewer joined");
        Ok((format!("{id}.{secret}"), answer))
    }

    /// The viewer named by a WHEP resource name: `ID.SECRET` from whoever holds the secret,
    /// a bare `ID` for the owner (`owner` true). Anything else is unknown, ids not confirmed.
    pub fn viewer_for(&self, resource: &str, owner: bool) -> Result<String, LiveError> {
        let unknown = || LiveError::UnknownViewer(resource.split('.').next().unwrap_or_default().to_owned());
        let (id, secret) = match resource.split_once('.') {
            Some((id, secret)) => (id, Some(secret)),
            None => (resource, None),
        };
        let viewers = self.viewers.lock().unwrap_or_else(PoisonError::into_inner);
        let viewer = viewers.get(id).ok_or_else(unknown)?;
        let allowed = match secret {
            Some(secret) => viewer.secret_matches(secret),
            None => owner,
        };
        if !allowed {
            return Err(unknown());
        }
        Ok(id.to_owned())
    }

    /// Closes a viewer's connection; the others are untouched.
    pub async fn remove_viewer(&self, id: &str) -> Result<(), LiveError> {
        let viewer = self
            .viewers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .ok_or_else(|| LiveError::UnknownViewer(id.to_owned()))?;
        self.seats.lock().unwrap_or_else(PoisonError::into_inner).free(viewer.address);
        viewer.close().await;
        tracing::info!(session = %self.log_id(), viewer = %id, "viewer left");
        if viewer.codec == Stream::Vp8 && !self.has_viewers(Stream::Vp8) {
            self.close_vp8();
        }
        Ok(())
    }

    /// Applies a trickle ICE fragment (candidates, or new credentials: an ICE restart) to
    /// the viewer `id`'s connection.
    pub async fn patch_viewer(
        &self,
        id: &str,
        fragment: &str,
        if_match: Option<&str>,
    ) -> Result<trickle::Patched, LiveError> {
        let viewer = self.viewers.lock().unwrap_or_else(PoisonError::into_inner).get(id).cloned();
        let viewer = viewer.ok_or_else(|| LiveError::UnknownViewer(id.to_owned()))?;
        viewer.patch_ice(fragment, if_match).await
    }

    /// The entity tag of the viewer `id`'s ICE session.
    pub fn viewer_etag(&self, id: &str) -> Option<String> {
        self.viewers.lock().unwrap_or_else(PoisonError::into_inner).get(id).map(|v| v.etag())
    }

    /// Stores what a viewer's page measured.
    pub fn report(&self, viewer: &str, report: ViewerReport) -> Result<(), LiveError> {
        let viewers = self.viewers.lock().unwrap_or_else(PoisonError::into_inner);
        let found = viewers.get(viewer).ok_or_else(|| LiveError::UnknownViewer(viewer.to_owned()))?;
        found.record(report);
        Ok(())
    }

    fn has_viewers(&self, codec: Stream) -> bool {
        self.viewers.lock().unwrap_or_else(PoisonError::into_inner).values().any(|v| v.codec == codec)
    }

    fn open_vp8(&self) {
        let mut vp8 = self.vp8.lock().unwrap_or_else(PoisonError::into_inner);
        if vp8.is_some() {
            return;
        }
        let track = Arc::clone(&self.tracks.vp8);
        let (tx, rx) = mpsc::channel(PUMP_QUEUE);
        let clock = Mutex::new(RtpClock::new(Stream::Vp8));
        let on_air = Arc::clone(&self.on_air);
        *vp8 = self.with_source(|source| {
            source.subscribe(Stream::Vp8, move |frame| {
                if on_air.load(Ordering::SeqCst) {
                    send(&tx, &clock, frame);
                }
            })
        });
        tokio::spawn(write_samples(rx, track));
    }

    fn close_vp8(&self) {
        if let Some(id) = self.vp8.lock().unwrap_or_else(PoisonError::into_inner).take() {
            self.with_source(|source| source.unsubscribe(id));
        }
    }

    async fn close(&self) {
        let viewers: Vec<_> = self.viewers.lock().unwrap_or_else(PoisonError::into_inner).drain().collect();
        *self.seats.lock().unwrap_or_else(PoisonError::into_inner) = Seats::default();
        for (_, viewer) in viewers {
            viewer.close().await;
        }
        let publisher = self.publisher.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(publisher) = publisher {
            publisher.close().await;
        }
        for pump in &self.pumps {
            pump.abort();
        }
        let runner = self.runner.lock().unwrap_or_else(PoisonError::into_inner).take();
        // Stopping waits for recordings to close: keep it off the async threads.
        if let Some(runner) = runner {
            let record = runner.record();
            let stopped = tokio::task::spawn_blocking(move || runner.stop()).await;
            if matches!(stopped, Ok(Ok(()))) && !record.recordings.is_empty() {
                let author = self.owner.clone().unwrap_or_else(|| std::env::var("USER").unwrap_or_default());
                let signed = tokio::task::spawn_blocking(move || sign_recordings(&record, &author)).await;
                *self.signed.lock().unwrap_or_else(PoisonError::into_inner) = signed.unwrap_or_default();
            }
        }
        let preview = self.preview.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(preview) = preview {
            // The last holder stops the graph (a request may hold it a moment longer).
            let _ = tokio::task::spawn_blocking(move || drop(preview)).await;
        }
    }
}

/// Viewer seats of one session, counted per address; taken under the session's lock
/// before the (slow) WebRTC setup, so parallel offers cannot pass the limits.
#[derive(Debug, Default)]
struct Seats {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Seats {
    /// The owner may take any free seat; others leave `OWNER_SEATS` free and hold at most
    /// `VIEWERS_PER_ADDRESS` per address.
    fn take(&mut self, address: IpAddr, owner: bool) -> Result<(), LiveError> {
        let held = self.by_address.get(&address).copied().unwrap_or_default();
        if !owner {
            if self.total >= MAX_VIEWERS - OWNER_SEATS {
                return Err(LiveError::Full);
            }
            if held >= VIEWERS_PER_ADDRESS {
                return Err(LiveError::AddressFull);
            }
        } else if self.total >= MAX_VIEWERS {
            return Err(LiveError::Full);
        }
        self.total += 1;
        self.by_address.insert(address, held + 1);
        Ok(())
    }

    fn free(&mut self, address: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(held) = self.by_address.get_mut(&address) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.by_address.remove(&address);
            }
        }
    }
}

/// Feeds one stream of `runner` into `track` while `on_air`.
fn pump(
    runner: &Fanout,
    stream: Stream,
    track: Arc<TrackLocalStaticSample>,
    on_air: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::channel(PUMP_QUEUE);
    let clock = Mutex::new(RtpClock::new(stream));
    runner.subscribe(stream, move |frame| {
        if on_air.load(Ordering::SeqCst) {
            sent.fetch_add(1, Ordering::Relaxed);
            send(&tx, &clock, frame);
        }
    });
    tokio::spawn(write_samples(rx, track))
}

/// Closes a visitor-consent show's camera once its visitor has left; ends with the show.
async fn watch_visits(session: std::sync::Weak<LiveSession>) {
    let mut tick = tokio::time::interval(VISIT_CHECK);
    loop {
        tick.tick().await;
        let Some(session) = session.upgrade() else { return };
        let Some(gate) = &session.consent else { return };
        let Some((tracking, seen)) = session.with_runner(|r| (r.tracks_faces(), r.face_seen_ago())) else { return };
        if gate.reset_if_left(Instant::now(), tracking, seen, |open| session.put_on_air(open)) {
            tracing::info!(session = %session.log_id(), "visitor left; back to the consent screen");
        }
    }
}

/// Turns running times into sample durations that add up to the exact RTP
/// clock: webrtc-rs advances the RTP timestamp by each sample's duration,
/// truncated to whole ticks, which at 30 fps (2999.99 ticks) lets the
/// picture's clock fall behind and the viewer's jitter buffer grow.
struct RtpClock {
    rate: f64,
    last_tick: Option<i64>,
}

impl RtpClock {
    fn new(stream: Stream) -> Self {
        RtpClock { rate: if stream == Stream::Opus { 48_000.0 } else { 90_000.0 }, last_tick: None }
    }

    /// Duration of the gap before `frame`: webrtc-rs stamps a sample at the
    /// current timestamp and then adds its duration, so the gap from the
    /// previous frame stands in for the next one and the sum never drifts.
    fn duration(&mut self, frame: &reenact_engine::live::EncodedFrame) -> Duration {
        let nominal = frame.duration.max(Duration::from_millis(1));
        let Some(pts) = frame.pts else { return nominal };
        let tick = (pts.as_secs_f64() * self.rate).round() as i64;
        let ticks = match self.last_tick.replace(tick) {
            Some(last) if tick > last => tick - last,
            _ => (nominal.as_secs_f64() * self.rate).round() as i64,
        };
        // Half a tick more, so the truncation lands on the whole tick.
        Duration::from_secs_f64((ticks as f64 + 0.5) / self.rate)
    }
}

/// Called on a GStreamer thread: never blocks; a full queue drops the frame.
fn send(tx: &mpsc::Sender<Sample>, clock: &Mutex<RtpClock>, frame: &reenact_engine::live::EncodedFrame) {
    let duration = clock.lock().unwrap_or_else(PoisonError::into_inner).duration(frame);
    let sample = Sample {
        data: bytes::Bytes::copy_from_slice(&frame.data),
        duration,
        timestamp: SystemTime::now(),
        ..Default::default()
    };
    let _ = tx.try_send(sample);
}

async fn write_samples(mut rx: mpsc::Receiver<Sample>, track: Arc<TrackLocalStaticSample>) {
    while let Some(sample) = rx.recv().await {
        // An error names peer connections that failed; they are dropped by their own state handler.
        if let Err(err) = track.write_sample(&sample).await {
            tracing::debug!(%err, "a viewer did not take a sample");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_every_seat_and_the_owner_always_finds_one() {
        let mut seats = Seats::default();
        let greedy: IpAddr = [127, 0, 0, 2].into();
        let taken = (0..MAX_VIEWERS).filter(|_| seats.take(greedy, false).is_ok()).count();
        assert_eq!(taken, VIEWERS_PER_ADDRESS);
        assert!(matches!(seats.take(greedy, false), Err(LiveError::AddressFull)));
        for i in 0..64u8 {
            let _ = seats.take([127, 0, 1, i].into(), false);
        }
        assert_eq!(seats.total, MAX_VIEWERS - OWNER_SEATS, "the crowd leaves the owner's seats");
        assert!(matches!(seats.take([127, 0, 2, 1].into(), false), Err(LiveError::Full)));
        assert!(seats.take(greedy, true).is_ok() && seats.take(greedy, true).is_ok(), "the owner gets in");
        seats.free(greedy);
        assert_eq!(seats.by_address[&greedy], VIEWERS_PER_ADDRESS + 1);
    }
}
