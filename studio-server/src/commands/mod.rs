// SPDX-License-Identifier: MPL-2.0
//! One module per `reenact` subcommand.

pub(crate) mod captions;
pub(crate) mod character;
pub(crate) mod live;
pub(crate) mod models;
pub(crate) mod network;
pub(crate) mod presets;
pub(crate) mod probe;
pub(crate) mod render;
pub(crate) mod serve;
pub(crate) mod storage;
pub(crate) mod subtitles;
pub(crate) mod verify;
pub(crate) mod voice;
pub(crate) mod worker;

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The progress bar of the long-running commands (render, voice, captions), on stderr;
/// hidden with `--quiet`. Its length is 1000 so that fractions keep a tenth of a percent.
pub(crate) fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:40}] {percent:>3}%  {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
