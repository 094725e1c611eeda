// SPDX-License-Identifier: MPL-2.0
#![allow(unreachable_pub)]
//! gst-plugin-reenact: the GStreamer elements of Reenact Studio (plugin `reenact`).
//!
//! Elements know frames, samples and models; they know nothing of projects,
//! users or HTTP. Each element lives in its own folder (`mod.rs` + `imp.rs`)
//! and is registered here with one line.

/**
 * plugin-reenact:
 *
 * Face, portrait animation, voice, lip, caption, matte and scaling elements for live and offline reenactment.
 *
 * Since: 0.1.0
 */
use gst::glib;

mod algorithm;
pub mod analysis;
mod animate;
pub mod captions;
pub mod character;
pub mod facemeta;
mod faceswap;
pub mod facetrack;
pub mod frame;
mod lipsync;
pub mod matte;
pub mod program;
pub mod reframe;
pub mod scale;
pub mod tts;
mod voice;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    animate::register(plugin)?;
    captions::register(plugin)?;
    faceswap::register(plugin)?;
    facetrack::register(plugin)?;
    lipsync::register(plugin)?;
    matte::register(plugin)?;
    reframe::register(plugin)?;
    scale::register(plugin)?;
    voice::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    reenact,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
