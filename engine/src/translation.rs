// SPDX-License-Identifier: MPL-2.0
//! Text translation between two languages, by a catalog model named
//! `translation_<from>_<to>` (ISO 639-1 primary subtags).
//!
//! No such model is bundled: none under a licence that allows redistribution and commercial
//! use could be had from the package registries this project installs from. So every pair is
//! refused with [`TranslationError::NoModel`], naming the model that would be needed; a model
//! entry a user adds whose format this build cannot run is refused as
//! [`TranslationError::Unsupported`]. Nothing is ever "translated" by a stand-in.

/// Why a pair cannot be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslationError {
    /// No model for the pair is installed.
    #[error("no translation model for {from} -> {to} is installed (catalog model `{model}`)")]
    NoModel { from: String, to: String, model: String },
    /// The catalog has an entry, in a format this build does not run.
    #[error("translation model `{model}` ({format}) cannot be run by this build")]
    Unsupported { model: String, format: String },
}

/// The catalog name of the model for a pair.
pub fn model_name(from: &str, to: &str) -> String {
    format!("translation_{from}_{to}")
}

/// A loaded translation model for one pair.
#[derive(Debug)]
pub struct Translator {
    never: std::convert::Infallible,
}

impl Translator {
    /// The model for `from` -> `to` (primary language subtags), checked in the catalog.
    pub fn open(from: &str, to: &str) -> Result<Self, TranslationError> {
        let model = model_name(from, to);
        let entry = reenact_models::Catalog::load()
            .ok()
            .and_then(|catalog| catalog.entry(&model).map(|e| e.model.format.clone().unwrap_or_else(|| "onnx".into())));
        match entry {
            None => Err(TranslationError::NoModel { from: from.into(), to: to.into(), model }),
            Some(format) => Err(TranslationError::Unsupported { model, format }),
        }
    }

    /// Translates one piece of text.
    pub fn translate(&mut self, _text: &str) -> Result<String, TranslationError> {
        match self.never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_without_a_model_is_refused_by_name() {
        let err = Translator::open("en", "xx").unwrap_err();
        assert!(err.to_string().contains("en -> xx") && err.to_string().contains("translation_en_xx"), "{err}");
    }
}
