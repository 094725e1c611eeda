// SPDX-License-Identifier: MPL-2.0
//! `reenact serve --demo`: a demo account with a project made from the shared
//! test media, so a fresh studio has something to render at once.

use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;

use crate::db::clips::{self, ClipPlace, ClipRow};
use crate::db::{self, projects, projects::ProjectRow, users};
use crate::storage::{Area, Storage, TempFile};
use crate::AppState;

/// Sign-in of the demo account.
pub const EMAIL: &str = "demo@reenact.local";
pub const PASSWORD: &str = "reenact-demo";

/// Files of `../shared/media` the demo project uses, with their display names.
const MEDIA: &[(&str, &str)] = &[
    ("synthetic/presenter_astronaut_1280x720_25fps.mp4", "Presenter (astronaut portrait).mp4"),
    ("grid/grid_swwp2s.mp4", "Talking head (GRID).mp4"),
];

/// The media folder: `REENACT_DEMO_MEDIA`, else `../shared/media`.
pub fn media_dir() -> PathBuf {
    std::env::var_os("REENACT_DEMO_MEDIA").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("../shared/media"))
}

/// Creates the demo account and project unless they exist. Returns what was done.
pub async fn seed(state: &AppState, media: &Path) -> anyhow::Result<String> {
    if users::by_email(&state.db, EMAIL).await?.is_some() {
        return Ok(format!("demo account {EMAIL} already exists"));
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the demo password: {e}"))?
        .to_string();
    let user = users::User {
        id: uuid::Uuid::new_v4().to_string(),
        email: EMAIL.into(),
        password_hash: hash,
        created_at: db::now(),
    };
    users::insert(&state.db, &user).await?;
    let project = ProjectRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner_id: user.id.clone(),
        name: "Demo: museum guide".into(),
        timeline: "{}".into(),
        created_at: db::now(),
        updated_at: db::now(),
        revision: 0,
        version: 0,
        commercial: 0,
        occlusion_mask: 0,
    };
    projects::insert(&state.db, &project).await?;
    let mut timeline_clips = Vec::new();
    for (rel, name) in MEDIA {
        let src = media.join(rel);
        let info = match tokio::task::spawn_blocking({
            let src = src.clone();
            move || reenact_engine::media::probe_video(&src)
        })
        .await?
        {
            Ok(info) => info,
            Err(err) => {
                tracing::warn!(%err, "demo media skipped");
                continue;
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        let key = Storage::key(&user.id, &project.id, Area::Source, &format!("{id}.mp4"));
        let temp = TempFile::new(state.storage.temp_path());
        let bytes = tokio::fs::copy(&src, temp.path()).await?;
        let files = [(temp.path().to_path_buf(), key.clone())];
        crate::quota::store_all(&state.db, &state.storage, &user.id, state.quota_bytes, &files).await?.keep();
        temp.keep();
        let place = ClipPlace {
            id: id.clone(),
            project_id: project.id.clone(),
            owner_id: user.id.clone(),
            original_name: (*name).into(),
            storage_key: key,
            bytes: bytes as i64,
        };
        let row = ClipRow::discovered(place, &info).expect("probe_video guarantees video");
        clips::insert(&state.db, &row).await?;
        crate::jobs::overview::queue(&state.db, &row, state.quota_bytes).await;
        timeline_clips.push(serde_json::json!({ "source": id, "in": 0.0, "out": info.duration_s.min(4.0) }));
    }
    let timeline = serde_json::json!({ "tracks": [{ "clips": timeline_clips }], "scenes": [] });
    let updated = ProjectRow { timeline: timeline.to_string(), ..project };
    projects::update(&state.db, &updated).await?;
    Ok(format!("demo account {EMAIL} / {PASSWORD} with project \"{}\" ({} clips)", updated.name, timeline_clips.len()))
}
