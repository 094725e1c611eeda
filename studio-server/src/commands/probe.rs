// SPDX-License-Identifier: MPL-2.0
//! `reenact probe FILE`: what a media file holds.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// Media file to describe.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let info = reenact_engine::probe(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("file:      {}", info.path.display());
    println!("container: {}", info.container.as_deref().unwrap_or("-"));
    println!("duration:  {:.3} s", info.duration_s);
    match &info.video {
        Some(v) => println!("video:     {} {}x{} @ {:.3} fps", v.codec, v.width, v.height, v.fps()),
        None => println!("video:     none"),
    }
    match &info.audio {
        Some(a) => println!("audio:     {} {} Hz, {} ch", a.codec, a.sample_rate, a.channels),
        None => println!("audio:     none"),
    }
    Ok(())
}
