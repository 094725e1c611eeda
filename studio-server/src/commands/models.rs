// SPDX-License-Identifier: MPL-2.0
//! `reenact models list|verify`: the models the manifests name, and whether their files are
//! present and intact.

use std::path::Path;

use anyhow::bail;
use clap::{Args, Subcommand};
use reenact_models::{Catalog, CatalogEntry, ModelEntry};
use serde::Serialize;

/// Widest a free-text column may get in the `list` table; `--json` has the full text.
const MAX_COLUMN: usize = 32;

/// Arguments of `reenact models`.
#[derive(Debug, Args)]
pub(crate) struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Show every known model with its version, task, license and status.
    List {
        /// Print JSON (full manifest entries, paths and status) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check every model file against its manifest checksum; fails if any is missing or corrupt.
    Verify {
        /// Re-hash every file instead of trusting the checksum cache.
        #[arg(long)]
        no_cache: bool,
    },
}

/// Runs `reenact models list` or `reenact models verify`.
pub(crate) fn run(args: ModelsArgs) -> anyhow::Result<()> {
    match args.command {
        ModelsCommand::List { json } => list(&Catalog::load()?, json),
        ModelsCommand::Verify { no_cache } => {
            let catalog = Catalog::load()?;
            verify(&if no_cache { catalog.without_cache() } else { catalog })
        }
    }
}

/// One model in `list --json`.
#[derive(Debug, Serialize)]
struct ListedModel<'a> {
    #[serde(flatten)]
    model: &'a ModelEntry,
    path: &'a Path,
    manifest: &'a Path,
    status: &'static str,
    problem: Option<String>,
}

fn list(catalog: &Catalog, json: bool) -> anyhow::Result<()> {
    let listed: Vec<_> = catalog.entries().iter().map(|entry| listed(catalog, entry)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else if listed.is_empty() {
        println!("no models found in {}", searched(catalog));
    } else {
        print_table(&listed);
    }
    Ok(())
}

fn listed<'a>(catalog: &Catalog, entry: &'a CatalogEntry) -> ListedModel<'a> {
    let status = catalog.status(entry);
    let label = status.label();
    ListedModel {
        model: &entry.model,
        path: &entry.path,
        manifest: &entry.manifest,
        status: label,
        problem: status.into_result(&entry.model.name).err().map(|err| err.to_string()),
    }
}

fn print_table(listed: &[ListedModel<'_>]) {
    let header = ["NAME", "VERSION", "TASK", "LICENSE", "STATUS"].map(String::from);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(listed.iter().map(|m| {
            let model = m.model;
            [model.name.clone(), clip(&model.version), model.task.clone(), clip(&model.license), m.status.into()]
        }))
        .collect();
    let widths: [usize; 5] =
        std::array::from_fn(|col| rows.iter().map(|row| row[col].chars().count()).max().unwrap_or(0));
    for row in &rows {
        let cells: Vec<_> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// `text` cut to [`MAX_COLUMN`] characters, ending in `…` when cut.
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_COLUMN {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(MAX_COLUMN - 1).collect();
    clipped.push('…');
    clipped
}

fn verify(catalog: &Catalog) -> anyhow::Result<()> {
    if catalog.entries().is_empty() {
        bail!("no models found in {}", searched(catalog));
    }
    let mut failed = 0;
    for entry in catalog.entries() {
        let status = catalog.status(entry);
        let label = status.label().to_uppercase();
        match status.into_result(&entry.model.name) {
            Ok(()) => println!("ok       {:<34} {}", entry.model.name, entry.path.display()),
            Err(err) => {
                failed += 1;
                println!("{label:<8} {err}");
            }
        }
    }
    let total = catalog.entries().len();
    println!("{} of {total} models verified; files hashed now: {}", total - failed, catalog.files_hashed());
    if failed > 0 {
        bail!("{failed} of {total} models are missing or corrupt");
    }
    Ok(())
}

fn searched(catalog: &Catalog) -> String {
    let dirs = match catalog.searched_dirs() {
        [] => reenact_models::search_dirs(),
        dirs => dirs.to_vec(),
    };
    dirs.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", ")
}
