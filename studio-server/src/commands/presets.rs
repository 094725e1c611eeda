// SPDX-License-Identifier: MPL-2.0
//! `reenact presets`: the presets this installation knows.

use clap::Args;
use reenact_engine::PresetLibrary;

#[derive(Debug, Args)]
pub(crate) struct PresetsArgs {
    /// Print the full presets as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: PresetsArgs) -> anyhow::Result<()> {
    let library = PresetLibrary::load()?;
    if args.json {
        let all: Vec<_> = library.iter().collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for preset in library.iter() {
        println!("{:<18} {}", preset.name, preset.description);
    }
    Ok(())
}
