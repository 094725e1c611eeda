// SPDX-License-Identifier: MPL-2.0
//! A small writer of Firefox Translations-shaped models: a Marian binary container with
//! float32 weights under the tensor names and shapes Mozilla's models use (transformer
//! encoder, SSRU decoder, shared embedding), and a SentencePiece vocabulary of whole words
//! and letters. The weights are seeded noise, so the "translation" is gibberish (with these
//! scales, one letter repeated to the translator's length cap, which letter depending on the
//! input), but it is the translator's own deterministic output: enough to exercise the import
//! and the translator without Mozilla's weights, which no package in the registries carries.

use std::path::{Path, PathBuf};

use crate::import::{import_model, ImportError, ImportRequest, Slot};
use crate::marian::{required_tensors, MarianModel};

/// Marian's type tag of float32 tensors.
const FLOAT32: u64 = 0x404;

/// Marian's type tag of int8 (the configuration text is stored as bytes).
const INT8: u64 = 0x101;

/// The fixture's pieces after `</s>` and `<unk>`: whole words of two languages, then the
/// word boundary and the letters so that any lowercase text can be spelled.
const WORDS: [&str; 12] =
    ["▁the", "▁house", "▁is", "▁red", "▁hello", "▁world", "▁la", "▁casa", "▁es", "▁roja", "▁hola", "▁mundo"];

/// The shape of the fixture: two heads, one layer each side, width 16.
pub fn fixture_shape() -> MarianModel {
    MarianModel { dim: 16, vocab: 2 + WORDS.len() + 1 + 26, enc_depth: 1, dec_depth: 1, heads: 2, ffn: 32, int8: false }
}

/// Writes `model.<from><to>.float32.bin` and `vocab.<from><to>.spm` into `dir`, as Mozilla
/// names them, with weights drawn from `seed`. Returns both paths.
pub fn write_fixture(dir: &Path, from: &str, to: &str, seed: u64) -> std::io::Result<(PathBuf, PathBuf)> {
    let shape = fixture_shape();
    let model = dir.join(format!("model.{from}{to}.float32.bin"));
    let vocab = dir.join(format!("vocab.{from}{to}.spm"));
    std::fs::write(&model, container(&shape, seed))?;
    std::fs::write(&vocab, vocabulary())?;
    Ok((model, vocab))
}

/// Writes the fixture for `from` -> `to` into `files` and imports it into model directory
/// `models` as a user would (licence MPL-2.0, cleared for commercial use). Returns the written
/// model and vocabulary.
pub fn import_fixture(
    files: &Path,
    models: &Path,
    (from, to): (&str, &str),
    seed: u64,
) -> Result<(PathBuf, PathBuf), ImportError> {
    let (model, vocab) =
        write_fixture(files, from, to, seed).map_err(|source| ImportError::Write { path: files.to_owned(), source })?;
    let request = ImportRequest {
        file: model.clone(),
        slot: Slot::Translation,
        license: "MPL-2.0".into(),
        commercial_use: Some(true),
        name: None,
        sample_rate: None,
        vocab: None,
    };
    import_model(models, &request)?;
    Ok((model, vocab))
}

/// The fixture's vocabulary as a SentencePiece `ModelProto`: `</s>` (id 0, control),
/// `<unk>` (id 1), the words, `▁` and the letters.
pub fn vocabulary() -> Vec<u8> {
    let mut pieces: Vec<(String, f32, u64)> = vec![("</s>".into(), 0.0, 3), ("<unk>".into(), 0.0, 2)];
    pieces.extend(WORDS.iter().map(|w| ((*w).to_owned(), -1.0, 1)));
    pieces.push(("▁".into(), -4.0, 1));
    pieces.extend(('a'..='z').map(|c| (c.to_string(), -5.0, 1)));
    let mut out = Vec::new();
    for (piece, score, kind) in pieces {
        let mut msg = Vec::new();
        field_bytes(&mut msg, 1, piece.as_bytes());
        msg.push((2 << 3) | 5);
        msg.extend_from_slice(&score.to_le_bytes());
        msg.push(3 << 3);
        varint(&mut msg, kind);
        field_bytes(&mut out, 1, &msg);
    }
    out
}

/// The Marian container: every tensor the translator reads for `shape`, seeded noise, with
/// the output bias keeping `</s>` and `<unk>` from ever being chosen (so each output runs to
/// the translator's length cap and is never empty).
pub fn container(shape: &MarianModel, seed: u64) -> Vec<u8> {
    let mut noise = Noise(seed | 1);
    let (d, f, v) = (shape.dim, shape.ffn, shape.vocab);
    let yaml = format!(
        "type: transformer\ndim-emb: {d}\nenc-depth: {}\ndec-depth: {}\ntransformer-heads: {}\n\
         transformer-dim-ffn: {f}\ndim-vocabs:\n  - {v}\n  - {v}\n",
        shape.enc_depth, shape.dec_depth, shape.heads
    );
    let mut items: Vec<(String, u64, Vec<i32>, Vec<u8>)> = Vec::new();
    let mut push = |name: String, dims: &[usize], values: Vec<f32>| {
        let data = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        items.push((name, FLOAT32, dims.iter().map(|&n| n as i32).collect(), data));
    };
    push("Wemb".into(), &[v, d], (0..v * d).map(|_| noise.next() * 2.0).collect());
    let mut bias = vec![0.0f32; v];
    bias[..2].fill(-100.0);
    push("decoder_ff_logit_out_b".into(), &[1, v], bias);
    // Exactly what the import checks for: a tensor it stops requiring drops out here too, and
    // the translator's own run on the fixture then shows whether it was needed.
    for (name, dims) in required_tensors(shape) {
        let n = dims.iter().product();
        let values = if name.ends_with("_ln_scale") {
            vec![1.0; n]
        } else if name.ends_with("_rnn_bf") {
            vec![0.0; n]
        } else {
            let scale = if dims[0] == 1 { 0.1 } else { 1.0 };
            (0..n).map(|_| noise.next() * scale).collect()
        };
        push(name, &dims, values);
    }
    let mut text = yaml.into_bytes();
    text.push(0);
    items.push(("special:model.yml".into(), INT8, vec![text.len() as i32], text));
    write_container(&items)
}

/// Marian's binary layout: version, count, one header per item (name length, type, rank,
/// byte length), the NUL-terminated names, the shapes, an empty alignment gap, the data.
fn write_container(items: &[(String, u64, Vec<i32>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let u64le = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&n.to_le_bytes());
    u64le(&mut out, 1);
    u64le(&mut out, items.len() as u64);
    for (name, kind, shape, data) in items {
        u64le(&mut out, name.len() as u64 + 1);
        u64le(&mut out, *kind);
        u64le(&mut out, shape.len() as u64);
        u64le(&mut out, data.len() as u64);
    }
    for (name, ..) in items {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
    }
    for (_, _, shape, _) in items {
        for d in shape {
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
    u64le(&mut out, 0);
    for (.., data) in items {
        out.extend_from_slice(data);
    }
    out
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// xorshift64*: uniform in [-1, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        bits as f32 / (1u64 << 23) as f32 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_reads_back_as_the_shape_it_was_written_with() {
        let dir = tempfile::tempdir().unwrap();
        let (model, vocab) = write_fixture(dir.path(), "en", "es", 7).unwrap();
        let found = crate::marian::read_model(&model).expect("a model the import accepts");
        assert_eq!(found, fixture_shape());
        assert_eq!(crate::marian::check_vocab(&vocab, &found), Ok(fixture_shape().vocab));
    }
}
