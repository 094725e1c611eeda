// SPDX-License-Identifier: MPL-2.0
//! reenact-server: the studio's HTTP back end and the `reenact` command line.
//!
//! The server knows users, projects, jobs and storage; it hands media work to
//! the engine and never touches pixels itself.

pub mod db;
pub mod demo;
pub mod http;
pub mod jobs;
pub mod live;
pub mod storage;

pub use http::{app, AppState, JwtKeys};
