// SPDX-License-Identifier: MPL-2.0
//! Storage flags shared by `reenact serve` and `reenact worker`: both must see the
//! same files, so both read the same settings.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reenact_server::storage::{Storage, StorageConfig};

#[derive(Debug, Args)]
pub(crate) struct StorageArgs {
    /// Object storage for media and renders, `s3://bucket[/prefix]`, with the endpoint and
    /// keys in AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (and
    /// AWS_ALLOW_HTTP=true for a plain-HTTP endpoint). Default: the data directory.
    #[arg(long, env = "REENACT_STORAGE")]
    storage: Option<String>,
    /// Seconds a failing object-store request is retried before the operation fails.
    #[arg(long, default_value_t = 30, env = "REENACT_STORAGE_RETRY_S")]
    storage_retry_s: u64,
    /// Largest local cache of stored objects, in megabytes.
    #[arg(long, default_value_t = 4096, env = "REENACT_CACHE_MB")]
    cache_mb: u64,
}

impl StorageArgs {
    /// The storage, with its local working folder in `data/storage`.
    pub(crate) fn open(&self, data: &Path) -> anyhow::Result<Arc<Storage>> {
        let config = StorageConfig {
            root: data.join("storage"),
            url: self.storage.clone(),
            retry: Duration::from_secs(self.storage_retry_s),
            cache_bytes: self.cache_mb << 20,
        };
        let storage = Storage::open(&config).context("cannot open the storage")?;
        tracing::info!(storage = %storage.describe(), "storage");
        Ok(Arc::new(storage))
    }
}
