// SPDX-License-Identifier: MPL-2.0
//! Before a render or show uses a face or a voice: is its right still good, and does it
//! cover this kind of work? And may each model be used in it?

use std::collections::BTreeMap;
use std::path::PathBuf;

use gstreenact::character::{Character, FaceMode};

/// Today, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// Refuses the cast when a character's or its voice's rights expired or exclude
/// `commercial` work, or, in commercial work, when a model the character brings (its
/// voice's speaker model) is not cleared for it; the message names the character and the
/// reason. Characters without a rights record pass (files made before rights were
/// recorded); their credentials say "not recorded".
pub fn check_cast(characters: &BTreeMap<String, PathBuf>, commercial: bool) -> Result<(), String> {
    let today = today();
    let catalog =
        commercial.then(reenact_models::Catalog::load).transpose().map_err(|e| format!("model catalog: {e}"))?;
    for (name, file) in characters {
        let character = Character::load(file).map_err(|e| e.to_string())?;
        check_character(name, &character, &today, catalog.as_ref())?;
    }
    Ok(())
}

/// [`check_cast`] for one character read already; `catalog` is given for commercial work.
pub fn check_character(
    name: &str,
    character: &Character,
    today: &str,
    catalog: Option<&reenact_models::Catalog>,
) -> Result<(), String> {
    let commercial = catalog.is_some();
    character.allows(today, commercial).map_err(|why| format!("character `{name}` cannot be used: {why}"))?;
    if let Some(catalog) = catalog {
        check_models(character.own_models(), catalog, true)
            .map_err(|why| format!("character `{name}` cannot be used: its voice's {why}"))?;
        if character.face == FaceMode::Animate {
            check_models(catalog.portrait_animation().0, catalog, true)
                .map_err(|why| format!("character `{name}` cannot be used: its portrait animation's {why}"))?;
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
