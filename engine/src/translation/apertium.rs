// SPDX-License-Identifier: MPL-2.0
//! Rule-based translation by Apertium (shallow transfer: morphological analysis, lexical
//! selection and structural transfer rules), for the pairs no neural model is imported for.
//! Its language data are GPL-2 Debian packages that `scripts/setup.sh` installs
//! (`apertium-eng-spa`, `apertium-fr-es`); the studio runs the `apertium` program on them,
//! as it runs espeak-ng, and links none of it. English <-> Spanish and Spanish <-> French
//! are direct; English <-> French goes through Spanish; German has no Apertium pair. The
//! directions are read from `models/manifests/MANIFEST.translation.toml`, whose entries
//! `reenact models verify` checks file by file.

use std::process::{Command, Stdio};
use std::sync::LazyLock;

use reenact_models::{ModelEntry, TensorSpec};

/// The program that runs a mode on text.
pub const PROGRAM: &str = "apertium";

/// The task of the catalog entries of Apertium's modes.
pub const TASK: &str = "translation_rule_based";

/// One direction Apertium is used for.
#[derive(Debug, PartialEq, Eq)]
struct Mode {
    /// Language in, ISO 639-1.
    from: String,
    /// Language out.
    to: String,
    /// Apertium's name for it (`eng-spa`): its mode file's stem.
    mode: String,
    /// Its catalog name (`apertium_eng_spa`).
    name: String,
    /// The Debian package that holds it.
    package: String,
}

/// Every direction, from the bundled `MANIFEST.translation.toml`: the routes, the packages
/// and the catalog names are those of the entries `reenact models verify` checks.
static MODES: LazyLock<Vec<Mode>> = LazyLock::new(|| {
    let manifests = reenact_models::bundled_manifests().unwrap_or_else(|err| {
        tracing::error!(%err, "the bundled manifests do not parse: no rule-based translation");
        Vec::new()
    });
    manifests.iter().flat_map(|m| &m.models).filter(|m| m.task == TASK).filter_map(mode_of).collect()
});

/// The direction a manifest entry describes: its languages from its text input and output,
/// its mode from its file, its package from `[model.package]`.
fn mode_of(entry: &ModelEntry) -> Option<Mode> {
    let language = |specs: &[TensorSpec]| specs.first()?.extra.get("language")?.as_str().map(str::to_owned);
    Some(Mode {
        from: language(&entry.inputs)?,
        to: language(&entry.outputs)?,
        mode: entry.file.file_stem()?.to_str()?.to_owned(),
        name: entry.name.clone(),
        package: entry.package.as_ref()?.name.clone(),
    })
}

/// The modes that take `from` to `to` (ISO 639-1): one, or two through a language both
/// share; `None` when Apertium has no way between them.
fn route(from: &str, to: &str) -> Option<Vec<&'static Mode>> {
    let modes: &'static [Mode] = &MODES;
    if let Some(direct) = modes.iter().find(|m| m.from == from && m.to == to) {
        return Some(vec![direct]);
    }
    modes.iter().filter(|first| first.from == from).find_map(|first| {
        modes.iter().find(|second| second.from == first.to && second.to == to).map(|second| vec![first, second])
    })
}

/// Why Apertium cannot translate a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Apertium has no pair (or pivot) for it.
    NoPair,
    /// It has, in these Debian packages, not all installed.
    NotInstalled(Vec<&'static str>),
}

/// The modes installed on this machine, as `apertium -l` lists them; none without the program.
fn installed_modes() -> Vec<String> {
    Command::new(PROGRAM)
        .arg("-l")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Each mode the studio uses, the Debian package that holds it, and whether it is installed.
pub fn modes() -> Vec<(&'static str, &'static str, bool)> {
    let installed = installed_modes();
    let modes: &'static [Mode] = &MODES;
    modes.iter().map(|m| (m.mode.as_str(), m.package.as_str(), installed.contains(&m.mode))).collect()
}

/// Apertium's translation of one direction, through one or two modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apertium {
    modes: Vec<&'static Mode>,
}

impl Apertium {
    /// The installed modes for `from` -> `to`, or why there are none.
    pub fn open(from: &str, to: &str) -> Result<Self, Unavailable> {
        let route = route(from, to).ok_or(Unavailable::NoPair)?;
        let installed = installed_modes();
        let mut missing: Vec<&'static str> =
            route.iter().filter(|m| !installed.contains(&m.mode)).map(|m| m.package.as_str()).collect();
        missing.dedup();
        if !missing.is_empty() {
            return Err(Unavailable::NotInstalled(missing));
        }
        Ok(Self { modes: route })
    }

    /// What the studio names it by in stats and metadata: `apertium:eng-spa`, or
    /// `apertium:eng-spa+es-fr` through Spanish.
    pub fn name(&self) -> String {
        let modes: Vec<&str> = self.modes.iter().map(|m| m.mode.as_str()).collect();
        format!("{PROGRAM}:{}", modes.join("+"))
    }

    /// The catalog names of its modes' data (`apertium_eng_spa`).
    pub fn catalog_names(&self) -> Vec<&'static str> {
        self.modes.iter().map(|m| m.name.as_str()).collect()
    }

    /// `text` translated, mode after mode. Words Apertium does not know are left as they are
    /// (`-u`: without its `*` marks).
    pub fn translate(&self, text: &str) -> Result<String, String> {
        self.run_modes(text).map(|text| clean(&text))
    }

    /// `texts` translated in one run of each mode, as paragraphs (Apertium keeps blank lines);
    /// `None` when that cannot be done faithfully: a text holding a blank line of its own, or
    /// a run that fails or answers with another number of paragraphs. The caller then
    /// translates them one by one.
    pub fn translate_together(&self, texts: &[&str]) -> Option<Vec<String>> {
        const PARAGRAPH: &str = "\n\n";
        let asked: Vec<(usize, &str)> =
            texts.iter().map(|t| t.trim()).enumerate().filter(|(_, t)| !t.is_empty()).collect();
        if asked.is_empty() {
            return Some(vec![String::new(); texts.len()]);
        }
        if asked.iter().any(|(_, t)| t.lines().any(|line| line.trim().is_empty())) {
            return None;
        }
        let text = self.run_modes(&asked.iter().map(|(_, t)| *t).collect::<Vec<_>>().join(PARAGRAPH)).ok()?;
        let answers: Vec<&str> = text.trim().split(PARAGRAPH).collect();
        if answers.len() != asked.len() {
            tracing::debug!(asked = asked.len(), answered = answers.len(), "apertium: paragraphs lost, one by one");
            return None;
        }
        let mut out = vec![String::new(); texts.len()];
        for ((i, _), answer) in asked.iter().zip(answers) {
            out[*i] = clean(answer);
        }
        Some(out)
    }

    /// `text` through each mode in turn, Apertium's marks still on.
    fn run_modes(&self, text: &str) -> Result<String, String> {
        self.modes.iter().try_fold(text.to_owned(), |text, m| run(&m.mode, &text))
    }
}

/// One run of `apertium -u -f txt MODE` on `text`.
fn run(mode: &str, text: &str) -> Result<String, String> {
    let out = gstreenact::program::output(PROGRAM, &["-u", "-f", "txt", mode], text)
        .map_err(|e| format!("`{PROGRAM} {mode}`: {e}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Apertium's marks taken off: `#` before a word it could not inflect and `@` before one it
/// could not transfer (the word itself is kept); runs of spaces (where it dropped a word)
/// made one, line by line, and the whole trimmed.
fn clean(text: &str) -> String {
    let line = |line: &str| {
        let words: Vec<&str> = line
            .split_whitespace()
            .map(|word| match word.strip_prefix(['#', '@']) {
                Some(rest) if !rest.is_empty() => rest,
                _ => word,
            })
            .collect();
        words.join(" ")
    };
    text.lines().map(line).collect::<Vec<_>>().join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_go_direct_or_through_spanish() {
        let modes = |from, to| route(from, to).map(|r| r.iter().map(|m| m.mode.as_str()).collect::<Vec<_>>());
        assert_eq!(modes("en", "es"), Some(vec!["eng-spa"]));
        assert_eq!(modes("es", "en"), Some(vec!["spa-eng"]));
        assert_eq!(modes("en", "fr"), Some(vec!["eng-spa", "es-fr"]));
        assert_eq!(modes("fr", "en"), Some(vec!["fr-es", "spa-eng"]));
        assert_eq!(modes("en", "de"), None);
        assert_eq!(modes("de", "en"), None);
        assert_eq!(Apertium::open("en", "de"), Err(Unavailable::NoPair));
    }

    #[test]
    fn the_setup_installs_every_mode() {
        let modes = modes();
        assert_eq!(modes.len(), MODES.len());
        assert!(modes.iter().all(|(_, _, installed)| *installed), "scripts/setup.sh installs them: {modes:?}");
    }

    #[test]
    fn marks_are_taken_off_words_not_text() {
        assert_eq!(clean("El #museo abre @mañana.\n"), "El museo abre mañana.");
        assert_eq!(clean("la historia  en el\npuerto "), "la historia en el\npuerto");
        assert_eq!(clean("C# y 3 # 4"), "C# y 3 # 4");
    }

    /// The installed pairs (scripts/setup.sh installs them) translate, each text on its own.
    #[test]
    fn the_installed_pairs_translate() {
        let english = Apertium::open("en", "es").expect("apertium-eng-spa (scripts/setup.sh installs it)");
        assert_eq!(english.name(), "apertium:eng-spa");
        let out = english.translate("The library is on the second floor.").unwrap();
        assert!(out.contains("biblioteca") && out.contains("segundo"), "{out}");
        assert_ne!(english.translate("Children can play in the garden.").unwrap(), out);
        let french = Apertium::open("en", "fr").expect("apertium-fr-es (scripts/setup.sh installs it)");
        assert_eq!(french.name(), "apertium:eng-spa+es-fr");
        assert_eq!(french.catalog_names(), ["apertium_eng_spa", "apertium_es_fr"], "the manifest's entries");
        let out = french.translate("The library is on the second floor.").unwrap();
        assert!(out.contains("bibliothèque"), "{out}");
        let back = Apertium::open("es", "en").unwrap().translate("Bienvenidos al museo de la ciudad.").unwrap();
        assert!(back.to_lowercase().contains("museum"), "{back}");
    }

    /// Many texts in one run give what each gives on its own, in order, empty ones kept.
    #[test]
    fn texts_translated_together_match_each_on_its_own() {
        let french = Apertium::open("en", "fr").expect("apertium-fr-es and apertium-eng-spa");
        let texts = ["The library is on the second floor.", "", "Children can play in the garden. It is big.", "Hello"];
        let together = french.translate_together(&texts).expect("one run");
        let alone: Vec<String> =
            texts.iter().map(|t| if t.is_empty() { String::new() } else { french.translate(t).unwrap() }).collect();
        assert_eq!(together, alone);
        assert_eq!(french.translate_together(&["one\n\ntwo"]), None, "a blank line of its own");
    }
}
