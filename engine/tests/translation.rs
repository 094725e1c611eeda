// SPDX-License-Identifier: MPL-2.0
//! Translation with what the setup installs: Apertium's rule-based English <-> Spanish and
//! French <-> Spanish (English <-> French through Spanish), scored with chrF on the twenty
//! museum sentences of `bench/translation.sh` against their references, each direction above
//! the benchmark's floor; German, which Apertium lacks, refused by name. No catalog is read,
//! so an imported model on this machine cannot stand in for Apertium.

#[path = "common/museum.rs"]
mod museum;

use museum::{reference, FLOOR, SENTENCES};
use reenact_engine::translation::{chrf, TranslationError, Translator};

/// chrF of `from` -> `to` over the sentences, with the first translation for the log.
fn score(from: &str, to: &str) -> (f64, String) {
    let mut translator = Translator::open_in(None, from, to)
        .unwrap_or_else(|e| panic!("{from} -> {to}: {e} (scripts/setup.sh installs Apertium's pairs)"));
    assert!(translator.model().starts_with("apertium:"), "{}", translator.model());
    let outputs: Vec<String> = SENTENCES
        .iter()
        .map(|row| translator.translate(reference(from, row)).unwrap_or_else(|e| panic!("{from} -> {to}: {e}")))
        .collect();
    let score = chrf(outputs.iter().zip(&SENTENCES).map(|(out, row)| (out.as_str(), reference(to, row))));
    (score, format!("{} ({}): {}", translator.model(), reference(from, &SENTENCES[5]), outputs[5]))
}

#[test]
fn apertium_translates_the_museum_sentences_above_the_floor() {
    let mut below = Vec::new();
    for (from, to) in [("en", "es"), ("es", "en"), ("en", "fr"), ("fr", "en")] {
        let (score, sample) = score(from, to);
        eprintln!("{from} -> {to}: chrF {score:.1}; {sample}");
        if score < FLOOR {
            below.push(format!("{from} -> {to} {score:.1}"));
        }
    }
    assert!(below.is_empty(), "under the chrF floor of {FLOOR}: {below:?}");
}

#[test]
fn a_language_apertium_lacks_is_refused_naming_the_model_it_would_need() {
    for (from, to) in [("en", "de"), ("de", "en")] {
        let err = Translator::open_in(None, from, to).expect_err("no German without a model");
        assert!(matches!(err, TranslationError::NoModel { .. }), "{err}");
        assert!(err.to_string().contains(&format!("translation_{from}_{to}")), "{err}");
    }
}
