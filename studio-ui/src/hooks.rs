// SPDX-License-Identifier: MPL-2.0
//! Hooks of the studio's pages.

use dioxus::prelude::*;

use crate::api::StudioApi;

/// The API handle the root component provides.
pub(crate) fn use_studio_api() -> StudioApi {
    try_use_context::<StudioApi>()
        .expect("StudioApi is missing: pages must run under reenact_ui's root component, which provides it")
}
