// SPDX-License-Identifier: MPL-2.0
//! Project previews: a [`PreviewRunner`] (the render's graph at preview size,
//! played in real time) behind the same shared tracks and WebRTC viewers as a
//! live show. One preview per user: a new one replaces the old. A preview
//! nobody has watched for [`IDLE`] (the timeline page closed) stops itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use reenact_engine::{PreviewRequest, PreviewRunner};
use serde::Serialize;

use super::{LiveError, LiveHub, LiveSession};

/// A preview without a viewer for this long stops.
pub const IDLE: Duration = Duration::from_secs(10);
/// How often the idle check runs.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// The previews of this process, one per user.
#[derive(Debug, Default)]
pub struct Previews {
    by_user: Mutex<HashMap<String, Slot>>,
}

/// A user's preview: starting (no session yet) or running.
#[derive(Debug)]
struct Slot {
    /// Tells a start apart from a later one that replaced it while it was building.
    ticket: String,
    project: String,
    session: Option<Arc<LiveSession>>,
}

/// What `GET /api/projects/{id}/preview/{pid}` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewState {
    pub id: String,
    pub project_id: String,
    /// Timeline seconds of the picture the viewers are shown.
    pub position: f64,
    pub playing: bool,
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    /// Where the page sends its WHEP offer (with its token).
    pub whep_url: String,
    pub viewers: usize,
}

impl LiveSession {
    /// The preview's state, `None` for a live show or once it stopped.
    pub fn preview_state(&self) -> Option<PreviewState> {
        let runner = self.preview()?;
        let (width, height) = runner.size();
        let project = self.project.clone().unwrap_or_default();
        Some(PreviewState {
            whep_url: format!("/api/projects/{project}/preview/{}/whep", self.id),
            id: self.id.clone(),
            project_id: project,
            position: runner.position_s(),
            playing: runner.playing(),
            duration: runner.duration_s(),
            width,
            height,
            viewers: self.viewer_count(),
        })
    }
}

impl LiveHub {
    /// Starts `owner`'s preview of `project`, replacing any preview they had: the old
    /// one stops before the new graph is built (one preview's CPU per user), and of two
    /// starts racing, the later wins and the earlier is refused.
    pub async fn start_preview(
        self: &Arc<Self>,
        owner: &str,
        project: &str,
        request: PreviewRequest,
    ) -> Result<Arc<LiveSession>, LiveError> {
        let ticket = uuid::Uuid::new_v4().simple().to_string();
        let slot = Slot { ticket: ticket.clone(), project: project.to_owned(), session: None };
        let old = self.previews.by_user.lock().unwrap_or_else(PoisonError::into_inner).insert(owner.to_owned(), slot);
        if let Some(old) = old.and_then(|slot| slot.session) {
            old.close().await;
        }
        let started = tokio::task::spawn_blocking(move || PreviewRunner::start(&request))
            .await
            .map_err(|e| LiveError::WebRtc(format!("preview start panicked: {e}")));
        let runner = match started {
            Ok(Ok(runner)) => runner,
            Ok(Err(err)) => {
                self.release_slot(owner, &ticket);
                return Err(err.into());
            }
            Err(err) => {
                self.release_slot(owner, &ticket);
                return Err(err);
            }
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut session = LiveSession::previewing(id, owner.to_owned(), runner, Arc::clone(&self.policy.network));
        session.project = Some(project.to_owned());
        let session = Arc::new(session);
        let current = {
            let mut previews = self.previews.by_user.lock().unwrap_or_else(PoisonError::into_inner);
            match previews.get_mut(owner) {
                Some(slot) if slot.ticket == ticket => {
                    slot.session = Some(Arc::clone(&session));
                    true
                }
                _ => false,
            }
        };
        if !current {
            session.close().await;
            return Err(LiveError::PreviewReplaced);
        }
        tokio::spawn(stop_when_idle(Arc::downgrade(self), owner.to_owned(), Arc::downgrade(&session)));
        Ok(session)
    }

    /// Frees `owner`'s slot if it still holds the start `ticket`.
    fn release_slot(&self, owner: &str, ticket: &str) {
        let mut previews = self.previews.by_user.lock().unwrap_or_else(PoisonError::into_inner);
        if previews.get(owner).is_some_and(|slot| slot.ticket == ticket) {
            previews.remove(owner);
        }
    }

    /// `owner`'s preview `id` of `project`; anything else is unknown.
    pub fn preview(&self, owner: &str, project: &str, id: &str) -> Result<Arc<LiveSession>, LiveError> {
        let previews = self.previews.by_user.lock().unwrap_or_else(PoisonError::into_inner);
        previews
            .get(owner)
            .filter(|slot| slot.project == project)
            .and_then(|slot| slot.session.clone())
            .filter(|session| session.id == id)
            .ok_or_else(|| LiveError::UnknownSession(id.to_owned()))
    }

    /// Stops `owner`'s preview `id` of `project`.
    pub async fn stop_preview(&self, owner: &str, project: &str, id: &str) -> Result<(), LiveError> {
        let session = {
            let mut previews = self.previews.by_user.lock().unwrap_or_else(PoisonError::into_inner);
            let found = previews
                .get(owner)
                .is_some_and(|slot| slot.project == project && slot.session.as_ref().is_some_and(|s| s.id == id));
            if !found {
                return Err(LiveError::UnknownSession(id.to_owned()));
            }
            previews.remove(owner).and_then(|slot| slot.session)
        };
        if let Some(session) = session {
            session.close().await;
        }
        Ok(())
    }

    /// Stops every preview (server shutdown).
    pub async fn stop_previews(&self) {
        let slots: Vec<_> = self.previews.by_user.lock().unwrap_or_else(PoisonError::into_inner).drain().collect();
        for (_, slot) in slots {
            if let Some(session) = slot.session {
                session.close().await;
            }
        }
    }
}

/// Stops the preview once no viewer has been connected for [`IDLE`]; ends with it.
async fn stop_when_idle(hub: Weak<LiveHub>, owner: String, session: Weak<LiveSession>) {
    let mut watched = Instant::now();
    let mut tick = tokio::time::interval(IDLE_CHECK);
    loop {
        tick.tick().await;
        let (Some(hub), Some(preview)) = (hub.upgrade(), session.upgrade()) else { return };
        if preview.preview().is_none() {
            return;
        }
        if preview.viewer_count() > 0 {
            watched = Instant::now();
            continue;
        }
        if watched.elapsed() >= IDLE {
            let project = preview.project.clone().unwrap_or_default();
            tracing::info!(preview = %preview.log_id(), "no viewer for {} s; preview stopped", IDLE.as_secs());
            let _ = hub.stop_preview(&owner, &project, &preview.id).await;
            return;
        }
    }
}
