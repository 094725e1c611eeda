// SPDX-License-Identifier: MPL-2.0
//! Text translation between two languages (ISO 639-1 primary subtags): by a catalog model
//! named `translation_<from>_<to>` when one is imported, and otherwise by Apertium's
//! rule-based translation where it has the pair ([`apertium`]).
//!
//! The models are Firefox Translations' (Mozilla, MPL-2.0): a Marian transformer with an
//! SSRU decoder per direction, brought in with `reenact models import FILE --as translation`
//! and run by `fxtranslate`, greedy decoding on the CPU. None is bundled: no package in the
//! registries the setup installs from carries one. Apertium's English <-> Spanish and
//! Spanish <-> French data come from Debian (GPL-2), installed by the setup; English <->
//! French goes through Spanish. A pair neither covers (German, for one) is refused with
//! [`TranslationError::NoModel`], naming the model that would be needed. Nothing is ever
//! "translated" by a stand-in.

pub mod apertium;

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use fxtranslate::engine::Engine;
use reenact_models::marian;

use apertium::{Apertium, Unavailable};

/// Why a pair cannot be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslationError {
    /// Neither a model for the pair is imported nor Apertium's data for it installed.
    #[error(
        "no translation model for {from} -> {to} is installed (catalog model `{model}`; import a Firefox \
         Translations model with `reenact models import model.{from}{to}.intgemm.alphas.bin --as translation`){apertium}"
    )]
    NoModel {
        from: String,
        to: String,
        model: String,
        /// What Apertium would need for the pair, when it has one: `; or ...`, else empty.
        apertium: String,
    },
    /// The catalog has an entry, in a format this build does not run.
    #[error("translation model `{model}` ({format}) cannot be run by this build")]
    Unsupported { model: String, format: String },
    /// The entry's files are missing or not the ones its manifest names.
    #[error("translation model `{model}` cannot be used: {reason}")]
    Unusable { model: String, reason: String },
    /// The files are there but the translator cannot load them.
    #[error("translation model `{model}` ({}) cannot be loaded: {reason}", path.display())]
    Load { model: String, path: PathBuf, reason: String },
    /// The translator failed on a piece of text.
    #[error("translation model `{model}` failed on {text:?}")]
    Failed { model: String, text: String },
}

/// A loaded translation for one pair: an imported model, or Apertium's.
pub struct Translator {
    model: String,
    version: String,
    backend: Backend,
}

/// The version recorded for Apertium data that no model directory lists, so nothing has
/// checked them against the pinned package (`reenact models install` lists them).
pub const UNVERIFIED: &str = "unverified";

enum Backend {
    Marian(Box<Engine>),
    Apertium(Apertium),
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator").field("model", &self.model).finish_non_exhaustive()
    }
}

impl Translator {
    /// The translation of `from` -> `to` (primary language subtags): the catalog's model,
    /// checked and loaded, or else Apertium's.
    pub fn open(from: &str, to: &str) -> Result<Self, TranslationError> {
        let catalog = reenact_models::Catalog::load().ok();
        Self::open_in(catalog.as_ref(), from, to)
    }

    /// As [`Self::open`], from `catalog` (none: no model directory could be read).
    pub fn open_in(catalog: Option<&reenact_models::Catalog>, from: &str, to: &str) -> Result<Self, TranslationError> {
        let model = marian::model_name(from, to);
        let Some((catalog, entry)) = catalog.and_then(|catalog| Some((catalog, catalog.entry(&model)?))) else {
            return Self::rule_based(catalog, from, to, model);
        };
        if entry.model.signature.as_deref() != Some(marian::SIGNATURE) {
            let format = entry.model.format.clone().unwrap_or_else(|| "onnx".into());
            return Err(TranslationError::Unsupported { model, format });
        }
        catalog
            .status(entry)
            .into_result(&model)
            .map_err(|err| TranslationError::Unusable { model: model.clone(), reason: err.to_string() })?;
        let Some(vocab) = entry.config_path.clone() else {
            return Err(TranslationError::Unusable { model, reason: "its manifest entry names no vocabulary".into() });
        };
        let load_error =
            |reason: String| TranslationError::Load { model: model.clone(), path: entry.path.clone(), reason };
        // The import checked every tensor; a file edited since would panic inside the loader.
        let loaded = panic::catch_unwind(|| Engine::load_mmapped(&entry.path, &vocab, &vocab))
            .map_err(|_| load_error("the model does not match what its import found".into()))?;
        let engine = loaded.map_err(load_error)?;
        tracing::info!(model = %model, path = %entry.path.display(), "translation model loaded");
        Ok(Self { model, version: entry.model.version.clone(), backend: Backend::Marian(Box::new(engine)) })
    }

    /// Apertium's translation of `from` -> `to`, for want of `model`; refused naming both.
    /// Its data are checked against the catalog's entries for its modes where the model
    /// directory lists them (`reenact models install` does).
    fn rule_based(
        catalog: Option<&reenact_models::Catalog>,
        from: &str,
        to: &str,
        model: String,
    ) -> Result<Self, TranslationError> {
        match Apertium::open(from, to) {
            Ok(apertium) => {
                let mut versions = Vec::new();
                for name in apertium.catalog_names() {
                    let Some((catalog, entry)) = catalog.and_then(|c| Some((c, c.entry(name)?))) else {
                        versions.push(UNVERIFIED.to_owned());
                        continue;
                    };
                    catalog
                        .status(entry)
                        .into_result(name)
                        .map_err(|err| TranslationError::Unusable { model: name.into(), reason: err.to_string() })?;
                    versions.push(entry.model.version.clone());
                }
                tracing::info!(translation = %apertium.name(), "rule-based translation (no model imported)");
                let version = versions.join(" + ");
                Ok(Self { model: apertium.name(), version, backend: Backend::Apertium(apertium) })
            }
            Err(why) => {
                let apertium = match why {
                    Unavailable::NoPair => String::new(),
                    Unavailable::NotInstalled(packages) => format!(
                        "; or install the Debian package {} for Apertium's rule-based translation (scripts/setup.sh or \
                         `reenact models install`, as root, does)",
                        packages.join(" and ")
                    ),
                };
                Err(TranslationError::NoModel { from: from.into(), to: to.into(), model, apertium })
            }
        }
    }

    /// What translates: the catalog name of the loaded model, or Apertium's modes
    /// (`apertium:eng-spa`).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Its version, for provenance: the catalog entry's, or for Apertium each mode's data
    /// package version (`0.8.1-2 (Debian 12) + 0.9.4-1 (Debian 12)`), [`UNVERIFIED`] for a
    /// mode the model directory does not list.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Translates one piece of text (sentences are translated one by one).
    pub fn translate(&mut self, text: &str) -> Result<String, TranslationError> {
        if text.trim().is_empty() {
            return Ok(String::new());
        }
        let failed = || TranslationError::Failed { model: self.model.clone(), text: text.to_owned() };
        match &self.backend {
            Backend::Marian(engine) => panic::catch_unwind(AssertUnwindSafe(|| engine.translate_long(text)))
                .map(|out| out.trim().to_owned())
                .map_err(|_| failed()),
            Backend::Apertium(apertium) => apertium.translate(text).map_err(|cause| {
                tracing::warn!(translation = %self.model, %cause, "translation failed");
                failed()
            }),
        }
    }

    /// Translates each of `texts`, in order: Apertium in one run for them all (its start-up
    /// is most of its time), a model one by one.
    pub fn translate_all(&mut self, texts: &[&str]) -> Result<Vec<String>, TranslationError> {
        if let Backend::Apertium(apertium) = &self.backend {
            if let Some(all) = apertium.translate_together(texts) {
                return Ok(all);
            }
        }
        texts.iter().map(|text| self.translate(text)).collect()
    }
}

/// What [`Translator::open`] would translate `from` -> `to` with, without loading it: the
/// imported model's name, Apertium's modes, or (neither there) the model that would be
/// needed, which opening then refuses.
pub fn planned(catalog: Option<&reenact_models::Catalog>, from: &str, to: &str) -> String {
    let model = marian::model_name(from, to);
    if catalog.is_some_and(|c| c.entry(&model).is_some()) {
        return model;
    }
    Apertium::open(from, to).map_or(model, |apertium| apertium.name())
}

/// Highest character n-gram order.
const ORDER: usize = 6;

/// Recall counts `BETA` times as much as precision.
const BETA: f64 = 2.0;

/// Corpus chrF (Popović 2015) of (hypothesis, reference) pairs, 0 to 100: the character
/// n-gram F-score, orders 1 to 6, recall weighted twice precision (beta 2), whitespace
/// ignored, the n-gram counts summed over all pairs before the score is taken, as sacreBLEU
/// does for a corpus. The translation benchmark scores models with it.
pub fn chrf<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    // Per order: matched n-grams, n-grams in the hypotheses, n-grams in the references.
    let mut totals = [(0usize, 0usize, 0usize); ORDER];
    for (hypothesis, reference) in pairs {
        let (hyp, reference): (Vec<char>, Vec<char>) = (letters(hypothesis), letters(reference));
        for (n, total) in (1..=ORDER).zip(totals.iter_mut()) {
            let (h, r) = (grams(&hyp, n), grams(&reference, n));
            total.0 += h.iter().map(|(gram, &count)| count.min(r.get(gram).copied().unwrap_or(0))).sum::<usize>();
            total.1 += h.values().sum::<usize>();
            total.2 += r.values().sum::<usize>();
        }
    }
    let orders: Vec<_> = totals.iter().filter(|t| t.1 > 0 && t.2 > 0).collect();
    if orders.is_empty() {
        return 0.0;
    }
    let precision = orders.iter().map(|t| t.0 as f64 / t.1 as f64).sum::<f64>() / orders.len() as f64;
    let recall = orders.iter().map(|t| t.0 as f64 / t.2 as f64).sum::<f64>() / orders.len() as f64;
    if precision + recall == 0.0 {
        return 0.0;
    }
    let b2 = BETA * BETA;
    100.0 * (1.0 + b2) * precision * recall / (b2 * precision + recall)
}

fn letters(text: &str) -> Vec<char> {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn grams(chars: &[char], n: usize) -> HashMap<&[char], usize> {
    let mut out = HashMap::new();
    for gram in chars.windows(n) {
        *out.entry(gram).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_scores_100_and_unrelated_text_0() {
        assert!((chrf([("La casa es roja.", "La casa es roja.")]) - 100.0).abs() < 1e-9);
        assert_eq!(chrf([("xyz", "abc")]), 0.0);
        assert_eq!(chrf([("", "abc")]), 0.0);
    }

    #[test]
    fn spaces_do_not_count_and_closer_text_scores_higher() {
        assert!((chrf([("La casa", "Lacasa")]) - 100.0).abs() < 1e-9);
        let near = chrf([("La casa es rojo.", "La casa es roja.")]);
        let far = chrf([("El coche es azul.", "La casa es roja.")]);
        assert!(near > 70.0 && far < near && far > 0.0, "{near} {far}");
    }

    #[test]
    fn recall_weighs_more_than_precision() {
        // Half the reference, all correct, against the reference padded with as much noise.
        let short = chrf([("abcdef", "abcdefghijkl")]);
        let long = chrf([("abcdefghijklqrstuvwxyzmn", "abcdefghijkl")]);
        assert!(long > short, "{long} {short}");
    }
    use reenact_models::marian_writer::import_fixture;
    use reenact_models::Catalog;

    /// A model directory with the fixture imported as `translation_en_es`; the fixture's files.
    fn imported() -> (tempfile::TempDir, tempfile::TempDir, PathBuf, PathBuf) {
        let (files, models) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (model, vocab) = import_fixture(files.path(), models.path(), ("en", "es"), 11).unwrap();
        (files, models, model, vocab)
    }

    #[test]
    fn an_imported_model_translates_as_the_translator_does() {
        let (_files, models, model, vocab) = imported();
        let catalog = Catalog::from_dirs([models.path().to_owned()]).unwrap().without_cache();
        let mut translator = Translator::open_in(Some(&catalog), "en", "es").expect("opens");
        assert_eq!(translator.model(), "translation_en_es");
        assert!(translator.version().starts_with("imported"), "{}", translator.version());
        let oracle = Engine::load(&model, &vocab, &vocab).unwrap();
        let mut outputs = Vec::new();
        for text in ["the house is red", "hello world", "zebra"] {
            let out = translator.translate(text).unwrap();
            assert_eq!(out, oracle.translate_long(text).trim(), "{text}");
            assert!(!out.is_empty(), "{text}");
            outputs.push(out);
        }
        assert_ne!(outputs[0], outputs[1], "each text is translated, not a fixed string");
        assert_eq!(translator.translate("  ").unwrap(), "");
        let other = Translator::open_in(Some(&catalog), "es", "en").map(|t| t.model().to_owned());
        assert!(!matches!(&other, Ok(name) if name == "translation_en_es"), "the other direction is another model");
        assert_eq!(planned(Some(&catalog), "en", "es"), "translation_en_es", "an imported model comes first");
    }

    #[test]
    fn a_model_changed_since_its_import_is_not_loaded() {
        let (_files, models, _, _) = imported();
        let path = models.path().join("imported/translation_en_es.bin");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let catalog = Catalog::from_dirs([models.path().to_owned()]).unwrap().without_cache();
        let err = Translator::open_in(Some(&catalog), "en", "es").unwrap_err();
        assert!(matches!(err, TranslationError::Unusable { .. }) && err.to_string().contains("corrupt"), "{err}");
    }

    #[test]
    fn a_pair_without_a_model_is_refused_by_name() {
        for (from, to) in [("en", "xx"), ("en", "de")] {
            let err = Translator::open_in(None, from, to).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("{from} -> {to}")) && text.contains(&format!("translation_{from}_{to}")),
                "{text}"
            );
            assert!(text.contains("--as translation"), "says how to get one: {text}");
            assert_eq!(planned(None, from, to), format!("translation_{from}_{to}"));
        }
    }

    /// Without an imported model, Apertium translates the pairs it has (the setup installs
    /// them), directly or through Spanish.
    #[test]
    fn apertium_translates_where_no_model_is_imported() {
        let mut spanish =
            Translator::open_in(None, "en", "es").expect("apertium-eng-spa (scripts/setup.sh installs it)");
        assert_eq!(spanish.model(), "apertium:eng-spa");
        assert_eq!(planned(None, "en", "es"), "apertium:eng-spa");
        let out = spanish.translate("The war ended after four years.").unwrap();
        assert!(out.contains("guerra") && out.contains("cuatro"), "{out}");
        assert_eq!(spanish.translate(" ").unwrap(), "");
        let mut english = Translator::open_in(None, "fr", "en").expect("apertium-fr-es and apertium-eng-spa");
        assert_eq!(english.model(), "apertium:fr-es+spa-eng");
        let out = english.translate("Les enfants peuvent jouer dans le jardin.").unwrap();
        assert!(out.contains("play") && out.contains("garden"), "{out}");
    }

    /// A model directory holding the studio's manifest of Apertium's data, as
    /// `reenact models install` writes it, with `edit` applied to its text.
    fn apertium_listed(edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, Catalog) {
        let (_, text) = reenact_models::BUNDLED_MANIFESTS
            .into_iter()
            .find(|(name, _)| *name == "MANIFEST.translation.toml")
            .expect("bundled");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("MANIFEST.translation.toml"), edit(text.to_owned())).unwrap();
        let catalog = Catalog::from_dirs([dir.path().to_owned()]).unwrap().without_cache();
        (dir, catalog)
    }

    #[test]
    fn apertium_s_data_are_checked_where_the_catalog_lists_them() {
        let (_dir, catalog) = apertium_listed(|text| text);
        let translator = Translator::open_in(Some(&catalog), "en", "fr").expect("the installed data match");
        assert_eq!(translator.model(), "apertium:eng-spa+es-fr");
        assert_eq!(translator.version(), "0.8.1-2 (Debian 12) + 0.9.4-1 (Debian 12)");
        assert_eq!(Translator::open_in(None, "en", "es").unwrap().version(), UNVERIFIED, "no catalog lists it");

        // The manifest expects other bytes for one of French's transfer rules than the
        // system holds: as a damaged file would be, it is refused by name.
        let rules = "/usr/share/apertium/apertium-fr-es/es-fr.t1x.bin";
        let (_dir, catalog) = apertium_listed(|text| {
            let at = text.find(rules).expect("listed") + rules.len();
            let sum_at = at + text[at..].find("sha256 = \"").unwrap() + "sha256 = \"".len();
            format!("{}{}{}", &text[..sum_at], "0".repeat(64), &text[sum_at + 64..])
        });
        let err = Translator::open_in(Some(&catalog), "en", "fr").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apertium_es_fr") && text.contains(rules) && text.contains("corrupt"), "{text}");
        assert!(Translator::open_in(Some(&catalog), "en", "es").is_ok(), "English -> Spanish does not read it");
    }
}
