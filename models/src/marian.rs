// SPDX-License-Identifier: MPL-2.0
//! Firefox Translations (Bergamot) models: a Marian transformer with an SSRU decoder, in
//! Marian's binary container (int8 with intgemm alphas, or float32), and the SentencePiece
//! vocabulary it was trained with. Mozilla publishes one such model per direction to or from
//! English under MPL-2.0 (`model.enes.intgemm.alphas.bin` + `vocab.enes.spm`).
//!
//! The translator (`fxtranslate`) panics on a missing tensor or a shape it does not expect,
//! so an import reads the whole container here and refuses, naming the tensor, what the
//! translator would otherwise fail on later.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use fxtranslate::model::{Model, ModelItem};
use fxtranslate::spm::SpmVocab;

/// The `signature` recorded for such a model.
pub const SIGNATURE: &str = "firefox_translations";

/// The catalog `task` of a translation model.
pub const TASK: &str = "translation";

/// What the container holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarianModel {
    /// Embedding width.
    pub dim: usize,
    /// Rows of the shared embedding: the vocabulary size.
    pub vocab: usize,
    /// Encoder layers.
    pub enc_depth: usize,
    /// Decoder (SSRU) layers.
    pub dec_depth: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward width.
    pub ffn: usize,
    /// Whether the weights are int8 (intgemm); float32 otherwise.
    pub int8: bool,
}

impl MarianModel {
    /// One line for messages and the manifest's `version`.
    pub fn describe(&self) -> String {
        format!(
            "Marian transformer-SSRU, {} weights, {} encoder / {} decoder layers, width {}, {} heads, \
             feed-forward {}, vocabulary {}",
            if self.int8 { "int8" } else { "float32" },
            self.enc_depth,
            self.dec_depth,
            self.dim,
            self.heads,
            self.ffn,
            self.vocab
        )
    }
}

/// Reads the Marian container at `path` and checks every tensor the translator reads. The
/// error says what was found instead.
pub fn read_model(path: &Path) -> Result<MarianModel, String> {
    let model = Model::load_mmapped(path).map_err(|err| format!("not a Marian model container ({err})"))?;
    if model.get("encoder_Wemb").is_some() {
        return Err("a model with separate source and target vocabularies (the CJK pairs); only shared-vocabulary \
                    models are supported"
            .into());
    }
    let wemb = model.get("Wemb").ok_or_else(|| found("no shared embedding `Wemb`", &model))?;
    let [vocab, width] = match wemb.shape[..] {
        [rows, cols] if rows > 0 && cols > 0 => [rows as usize, cols as usize],
        _ => return Err(format!("`Wemb` has shape {:?}, not [vocabulary, width]", wemb.shape)),
    };
    let yaml = model.get("special:model.yml").map(|it| String::from_utf8_lossy(&it.data).into_owned());
    let yaml = yaml.ok_or_else(|| found("no `special:model.yml`", &model))?;
    let int8 = wemb.dtype != fxtranslate::trace::DType::Float32;
    let config = |key: &str, default: usize| yaml_number(&yaml, key).unwrap_or(default);
    // The defaults are the translator's own for a key the configuration leaves out.
    let dim = config("dim-emb", 384);
    if dim != width {
        return Err(format!("`Wemb` is {width} wide, but the configuration's dim-emb is {dim}"));
    }
    let found = MarianModel {
        dim,
        vocab,
        enc_depth: config("enc-depth", 6),
        dec_depth: config("dec-depth", 4),
        heads: config("transformer-heads", 8),
        ffn: config("transformer-dim-ffn", 1536),
        int8,
    };
    if found.enc_depth == 0 || found.dec_depth == 0 || found.heads == 0 || dim % found.heads != 0 {
        return Err(format!("an unusable configuration: {}", found.describe()));
    }
    for (name, shape) in required_tensors(&found) {
        let item = model.get(&name).ok_or_else(|| format!("no tensor `{name}` ({})", found.describe()))?;
        check_shape(item, &shape)?;
        if int8 && shape.len() == 2 && shape[0] > 1 && model.get(&format!("{name}_QuantMultA")).is_none() {
            return Err(format!("int8 weight `{name}` has no `{name}_QuantMultA`"));
        }
    }
    if int8 && model.get("none_QuantMultA").is_none() {
        return Err("int8 model without the output projection's `none_QuantMultA`".into());
    }
    Ok(found)
}

/// Reads the SentencePiece vocabulary at `path` and checks it against `model`: as many pieces
/// as the embedding has rows, with an end-of-sentence piece. Returns the piece count.
pub fn check_vocab(path: &Path, model: &MarianModel) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("cannot read it: {err}"))?;
    // The reader indexes past the end of a damaged file rather than returning an error.
    let vocab = panic::catch_unwind(AssertUnwindSafe(|| SpmVocab::from_bytes(&bytes)))
        .map_err(|_| "not a SentencePiece model (it could not be parsed)".to_owned())?;
    if vocab.is_empty() {
        return Err("not a SentencePiece model (no pieces)".into());
    }
    if vocab.len() != model.vocab {
        return Err(format!("holds {} pieces, but the model's embedding has {} rows", vocab.len(), model.vocab));
    }
    if vocab.piece(vocab.eos_id()) != "</s>" {
        return Err("has no end-of-sentence piece `</s>`".into());
    }
    Ok(vocab.len())
}

/// The direction Mozilla's file names carry: `model.enes.intgemm.alphas.bin` -> (en, es).
pub fn pair_from_file_name(path: &Path) -> Option<(String, String)> {
    let name = path.file_name()?.to_str()?;
    let pair = name.strip_prefix("model.")?.split('.').next()?;
    let lower = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase());
    (pair.len() == 4 && lower(pair)).then(|| (pair[..2].to_owned(), pair[2..].to_owned()))
}

/// The vocabulary Mozilla ships beside `model.<pair>.*`: `vocab.<pair>.spm`.
pub fn default_vocab(model: &Path) -> Option<PathBuf> {
    let (from, to) = pair_from_file_name(model)?;
    Some(model.with_file_name(format!("vocab.{from}{to}.spm")))
}

/// The catalog name of the model for a direction.
pub fn model_name(from: &str, to: &str) -> String {
    format!("translation_{from}_{to}")
}

/// The direction a catalog name gives: `translation_en_es` -> (en, es).
pub fn pair_from_model_name(name: &str) -> Option<(&str, &str)> {
    let (from, to) = name.strip_prefix("translation_")?.split_once('_')?;
    let code = |s: &str| (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase());
    (code(from) && code(to) && from != to).then_some((from, to))
}

fn found(what: &str, model: &Model) -> String {
    let names: Vec<&str> = model.items.iter().take(6).map(|it| it.name.as_str()).collect();
    format!("{what}; {} tensors, the first: {}", model.items.len(), names.join(", "))
}

fn yaml_number(yaml: &str, key: &str) -> Option<usize> {
    yaml.lines().find_map(|line| line.trim().strip_prefix(key)?.trim().strip_prefix(':')?.trim().parse().ok())
}

/// Every tensor the translator reads for `model`'s configuration, with its shape, besides the
/// embedding `Wemb` (encoder and decoder layers in order).
pub(crate) fn required_tensors(model: &MarianModel) -> Vec<(String, Vec<usize>)> {
    let (d, f) = (model.dim, model.ffn);
    let attention = |prefix: &str| -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for p in ["q", "k", "v", "o"] {
            out.push((format!("{prefix}_W{p}"), vec![d, d]));
            out.push((format!("{prefix}_b{p}"), vec![1, d]));
        }
        out.push((format!("{prefix}_Wo_ln_scale"), vec![1, d]));
        out
    };
    let ffn = |prefix: &str| {
        vec![
            (format!("{prefix}_W1"), vec![d, f]),
            (format!("{prefix}_b1"), vec![1, f]),
            (format!("{prefix}_W2"), vec![f, d]),
            (format!("{prefix}_b2"), vec![1, d]),
            (format!("{prefix}_ffn_ln_scale"), vec![1, d]),
        ]
    };
    let mut out = Vec::new();
    for layer in 1..=model.enc_depth {
        let p = format!("encoder_l{layer}");
        out.extend(attention(&format!("{p}_self")));
        out.extend(ffn(&format!("{p}_ffn")));
    }
    for layer in 1..=model.dec_depth {
        let p = format!("decoder_l{layer}");
        out.push((format!("{p}_rnn_W"), vec![d, d]));
        out.push((format!("{p}_rnn_Wf"), vec![d, d]));
        out.push((format!("{p}_rnn_bf"), vec![1, d]));
        out.push((format!("{p}_rnn_ffn_ln_scale"), vec![1, d]));
        out.extend(attention(&format!("{p}_context")));
        out.extend(ffn(&format!("{p}_ffn")));
    }
    out
}

fn check_shape(item: &ModelItem, want: &[usize]) -> Result<(), String> {
    let shape: Vec<usize> = item.shape.iter().map(|&d| d.max(0) as usize).collect();
    // A bias or scale may be stored flat.
    let same = shape == want || (want.len() == 2 && want[0] == 1 && shape == want[1..]);
    if same {
        Ok(())
    } else {
        Err(format!("tensor `{}` has shape {:?}, the configuration needs {:?}", item.name, item.shape, want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direction_comes_from_mozillas_file_names() {
        let path = Path::new("/m/model.enes.intgemm.alphas.bin");
        assert_eq!(pair_from_file_name(path), Some(("en".into(), "es".into())));
        assert_eq!(default_vocab(path), Some(PathBuf::from("/m/vocab.enes.spm")));
        assert_eq!(pair_from_file_name(Path::new("model.bin")), None);
        assert_eq!(pair_from_file_name(Path::new("model.EnEs.bin")), None);
        assert_eq!(pair_from_model_name("translation_en_de"), Some(("en", "de")));
        assert_eq!(pair_from_model_name("translation_en_en"), None);
        assert_eq!(pair_from_model_name("translation_english_de"), None);
    }

    #[test]
    fn configuration_numbers_are_read_by_key() {
        let yaml = "type: transformer\nenc-depth: 3\ndec-depth:   2\ntransformer-heads: x\n";
        assert_eq!(yaml_number(yaml, "enc-depth"), Some(3));
        assert_eq!(yaml_number(yaml, "dec-depth"), Some(2));
        assert_eq!(yaml_number(yaml, "transformer-heads"), None);
    }
}
