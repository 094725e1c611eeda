// SPDX-License-Identifier: MPL-2.0
//! Before a render or show uses a face or a voice: is its right still good, and does it
//! cover this kind of work? And may each model be used in it?

use std::collections::BTreeMap;
use std::path::PathBuf;

use gstreenact::character::Character;

/// Today, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// Refuses the cast when a character's rights expired or exclude `commercial` work; the
/// message names the character and the reason. Characters without a rights record pass
/// (files made before rights were recorded); their credentials say "not recorded".
pub fn check_cast(characters: &BTreeMap<String, PathBuf>, commercial: bool) -> Result<(), String> {
    let today = today();
    for (name, file) in characters {
        let character = Character::load(file).map_err(|e| e.to_string())?;
        if let Some(rights) = &character.rights {
            rights.allows(&today, commercial).map_err(|why| format!("character `{name}` cannot be used: {why}"))?;
        }
    }
    Ok(())
}

/// Refuses models not cleared for commercial use in `commercial` work, naming the model
/// and its licence; a manifest that does not say counts as not cleared.
pub fn check_models<'a>(
    models: impl IntoIterator<Item = &'a str>,
    catalog: &reenact_models::Catalog,
    commercial: bool,
) -> Result<(), String> {
    if !commercial {
        return Ok(());
    }
    for name in models {
        if let Some(entry) = catalog.entry(name) {
            if !entry.model.cleared_for_commercial_use() {
                let said = match entry.model.commercial_use {
                    Some(false) => "says commercial_use = false",
                    _ => "does not say it may be used commercially",
                };
                return Err(format!(
                    "model `{name}` (licence {}) is not cleared for commercial work: its manifest {said}",
                    entry.model.license
                ));
            }
        }
    }
    Ok(())
}
