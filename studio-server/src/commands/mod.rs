// SPDX-License-Identifier: MPL-2.0
//! One module per `reenact` subcommand.

pub(crate) mod captions;
pub(crate) mod character;
pub(crate) mod live;
pub(crate) mod models;
pub(crate) mod presets;
pub(crate) mod probe;
pub(crate) mod render;
pub(crate) mod serve;
pub(crate) mod storage;
pub(crate) mod voice;
pub(crate) mod worker;
