// SPDX-License-Identifier: MPL-2.0
//! `reenact verify FILE`: reads a file's Content Credentials and says whether they hold and
//! what they state. Exit status 0 when the credential validates, 1 when it is missing,
//! tampered with or does not validate.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use reenact_server::credentials::{verify_file, Verification};

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The file to check (its `.c2pa` sidecar is read when it has no embedded manifest).
    file: PathBuf,
    /// PEM bundle of CA certificates to trust (e.g. the operator's CA); without it no signer
    /// is reported as trusted.
    #[arg(long)]
    trust_anchors: Option<PathBuf>,
    /// Print the whole report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Write the manifest store (as the C2PA reader reports it, JSON) to this file.
    #[arg(long)]
    manifest_out: Option<PathBuf>,
}

pub(crate) fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let anchors = match &args.trust_anchors {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let report = verify_file(&args.file, anchors.as_deref())?;
    if let Some(out) = &args.manifest_out {
        std::fs::write(out, &report.manifest_json).with_context(|| format!("cannot write {}", out.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    anyhow::ensure!(report.valid, "{}: the Content Credentials do not validate", args.file.display());
    Ok(())
}

fn print_report(r: &Verification) {
    let state = match (r.valid, r.trusted) {
        (false, _) => "INVALID",
        (true, false) => "valid (signer not on a trust list)",
        (true, true) => "valid and trusted",
    };
    println!("file:        {}", r.file.display());
    println!("credential:  {state}, {}", if r.embedded { "embedded" } else { "in a .c2pa sidecar" });
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("title:       {}", text(&r.title));
    println!("signed by:   {} ({})", text(&r.signer), text(&r.signer_common_name));
    println!("made with:   {}", text(&r.claim_generator));
    for action in &r.actions {
        let name = action.get("action").and_then(|a| a.as_str()).unwrap_or("?");
        let source = action.get("digitalSourceType").and_then(|a| a.as_str()).unwrap_or("");
        println!("action:      {name} {}", source.rsplit('/').next().unwrap_or(""));
    }
    for ingredient in &r.ingredients {
        let field = |k: &str| ingredient.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
        println!("ingredient:  {} ({}, {})", field("title"), field("relationship"), field("instance_id"));
    }
    if let Some(p) = &r.provenance {
        let field = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
        println!("author:      {}", field("author"));
        println!("made at:     {}", field("created_at"));
        for c in p.get("characters").and_then(|c| c.as_array()).into_iter().flatten() {
            let rights =
                c.get("rights").and_then(|r| r.get("basis")).and_then(|b| b.as_str()).unwrap_or("not recorded");
            let voice = match c.get("voice_rights").and_then(|r| r.get("basis")).and_then(|b| b.as_str()) {
                Some(basis) => format!(", voice rights: {basis}"),
                None => String::new(),
            };
            println!(
                "character:   {} (rights: {rights}{voice})",
                c.get("name").and_then(|n| n.as_str()).unwrap_or("?")
            );
        }
        for m in p.get("models").and_then(|m| m.as_array()).into_iter().flatten() {
            let f = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
            println!("model:       {} {} (licence {}, sha256 {})", f("name"), f("version"), f("license"), f("sha256"));
        }
    }
    for failure in &r.failures {
        println!("FAILURE:     {} {}", failure.code, failure.explanation.clone().unwrap_or_default());
    }
}
