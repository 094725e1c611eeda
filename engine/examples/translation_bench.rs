// SPDX-License-Identifier: MPL-2.0
//! Translation quality and speed English -> Spanish, German and French, by what the studio
//! translates each with: an imported model (`translation_en_es`, `_de`, `_fr`), or else
//! Apertium's rule-based translation (Spanish, and French through Spanish): twenty sentences
//! of the kind a museum shows, translated one by one and scored with chrF against references
//! written for this bench; sentences a second, one at a time (a live dub's lines) and all
//! twenty in one call (a subtitle track's cues). A direction scoring under the floor fails the
//! run; a direction with no translation is reported with the command that imports a model.
//!
//! Usage: `cargo run -p reenact-engine --example translation_bench [ROUNDS]`

use std::time::Instant;

use reenact_engine::translation::{chrf, TranslationError, Translator};

#[path = "../tests/common/museum.rs"]
mod museum;

use museum::{reference, FLOOR, SENTENCES};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(3).max(1);
    let mut below = Vec::new();
    for lang in ["es", "de", "fr"] {
        let started = Instant::now();
        let mut translator = match Translator::open("en", lang) {
            Ok(translator) => translator,
            Err(err @ TranslationError::NoModel { .. }) => {
                println!("en -> {lang}: not measured: {err}");
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let load_s = started.elapsed().as_secs_f64();
        let mut outputs = Vec::new();
        let started = Instant::now();
        for round in 0..rounds {
            for row in &SENTENCES {
                let out = translator.translate(row.0)?;
                if round == 0 {
                    outputs.push(out);
                }
            }
        }
        let per_s = (rounds * SENTENCES.len()) as f64 / started.elapsed().as_secs_f64();
        // As a subtitle track is translated: all its cues in one call.
        let english: Vec<&str> = SENTENCES.iter().map(|row| row.0).collect();
        let started = Instant::now();
        for _ in 0..rounds {
            translator.translate_all(&english)?;
        }
        let together_per_s = (rounds * SENTENCES.len()) as f64 / started.elapsed().as_secs_f64();
        let score = chrf(outputs.iter().zip(&SENTENCES).map(|(out, row)| (out.as_str(), reference(lang, row))));
        println!(
            "en -> {lang} ({}): chrF {score:.1} over {} sentences (floor {FLOOR}), {per_s:.1} sentences/s one at a \
             time, {together_per_s:.1} all together as a track ({rounds} rounds), loaded in {load_s:.2} s",
            translator.model(),
            SENTENCES.len()
        );
        for (out, row) in outputs.iter().zip(&SENTENCES).take(3) {
            println!("    {} -> {out}", row.0);
        }
        if score < FLOOR {
            below.push(format!("en -> {lang} ({score:.1})"));
        }
    }
    if !below.is_empty() {
        return Err(format!("under the chrF floor of {FLOOR}: {}", below.join(", ")).into());
    }
    Ok(())
}
