// SPDX-License-Identifier: MPL-2.0
//! One file per page of the studio.

mod account;
mod cast;
mod import;
mod jobs;
mod library;
mod login;
mod models;
mod project;
mod projects;
mod renders;
mod studio;
mod subtitles;
mod timeline;

pub(crate) use account::Account;
pub(crate) use jobs::Jobs;
pub(crate) use library::{CharacterLibrary, VoiceLibrary};
pub(crate) use login::Login;
pub(crate) use models::Models;
pub(crate) use project::ProjectPage;
pub(crate) use projects::Projects;
pub(crate) use studio::{Studio, StudioSession};
pub(crate) use subtitles::SubtitleEditor;
