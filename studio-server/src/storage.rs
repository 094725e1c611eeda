// SPDX-License-Identifier: MPL-2.0
//! Stored files, laid out as
//! `users/{user}/projects/{project}/{source,clips,audio,renders,thumbnails,metadata}/{file}`.
//! Every path is built from ids the server made, never from names users typed.
//!
//! Two places can hold them: a local directory (the default; one machine, or a shared
//! filesystem), or an S3-compatible object store (`s3://bucket/prefix`) through
//! `object_store`, so that workers on other machines share nothing but the database and
//! the bucket. GStreamer reads local files, so objects are read through a local cache;
//! keys are never reused (they carry fresh ids), which is why a cached copy never goes stale.

mod cache;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig};
use tokio::io::AsyncWriteExt;

use cache::Cache;

/// The kinds of files a project holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Source,
    Clips,
    Audio,
    Renders,
    Thumbnails,
    Metadata,
}

impl Area {
    fn dir(self) -> &'static str {
        match self {
            Area::Source => "source",
            Area::Clips => "clips",
            Area::Audio => "audio",
            Area::Renders => "renders",
            Area::Thumbnails => "thumbnails",
            Area::Metadata => "metadata",
        }
    }
}

/// A storage operation that failed, naming the key (or setting) and the cause.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage setting: {0}")]
    Config(String),
    #[error("{key}: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("object store {store}: {key}: {source}")]
    Object { store: String, key: String, source: object_store::Error },
}

impl StorageError {
    /// Whether the file is simply not there (rather than unreachable or unreadable).
    pub fn is_not_found(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            StorageError::Object { source, .. } => matches!(source, object_store::Error::NotFound { .. }),
            StorageError::Config(_) => false,
        }
    }
}

/// Where files go and how patiently the object store is retried.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Local working directory: temporary files, the object cache, and the files
    /// themselves when there is no object store.
    pub root: PathBuf,
    /// `s3://bucket[/prefix]`, or none for the local directory. Endpoint and
    /// credentials come from the usual `AWS_*` variables (`AWS_ENDPOINT`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`).
    pub url: Option<String>,
    /// How long one request to the object store is retried before it counts as failed.
    pub retry: Duration,
    /// Largest size of the local cache of objects, in bytes.
    pub cache_bytes: u64,
}

impl StorageConfig {
    pub fn local(root: impl Into<PathBuf>) -> Self {
        StorageConfig { root: root.into(), url: None, retry: Duration::from_secs(30), cache_bytes: 4 << 30 }
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Local,
    Objects { store: Arc<dyn ObjectStore>, url: String, cache: Arc<Cache> },
}

/// How long a successful readiness probe of the storage is trusted: the probe writes, reads
/// and deletes a file (an object on S3), which an unauthenticated `/readyz` must not make
/// cost that much on every call.
pub const PROBE_FRESH: Duration = Duration::from_secs(30);

/// Every user's files.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    backend: Backend,
    /// When the last probe succeeded; the lock lets one probe run at a time.
    last_probe: Arc<tokio::sync::Mutex<Option<Instant>>>,
    /// Set when an object operation failed since the last probe: readiness is checked again.
    fault_seen: Arc<std::sync::atomic::AtomicBool>,
}

impl Storage {
    /// Files in a local directory.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Storage { root, backend: Backend::Local, last_probe: Arc::default(), fault_seen: Arc::default() })
    }

    /// Files where `config` says.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        let local = Self::new(&config.root)
            .map_err(|source| StorageError::Io { key: config.root.display().to_string(), source })?;
        let Some(url) = config.url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(local);
        };
        let store = object_store_for(url, config.retry)?;
        let cache = Cache::new(config.root.join("cache"), config.cache_bytes);
        Ok(Storage {
            root: local.root,
            backend: Backend::Objects { store, url: url.to_owned(), cache: Arc::new(cache) },
            last_probe: Arc::default(),
            fault_seen: Arc::default(),
        })
    }

    /// Where files go, for logs and messages.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local => self.root.display().to_string(),
            Backend::Objects { url, .. } => url.clone(),
        }
    }

    /// Key of `file` in `area` of a project. `file` must be made by the server
    /// (an id plus an extension of letters and digits).
    pub fn key(user: &str, project: &str, area: Area, file: &str) -> String {
        debug_assert!(file.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') && !file.contains(".."));
        format!("users/{user}/projects/{project}/{}/{file}", area.dir())
    }

    /// A fresh temporary file path for an incoming upload or a job's work.
    pub fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(format!("{}.part", uuid::Uuid::new_v4()))
    }

    /// Publishes a finished temporary file as `key`. Either the whole file is
    /// published or nothing is: a local rename, or an object upload that only
    /// becomes visible when complete (a failed multipart upload is aborted).
    pub async fn commit(&self, temp: &Path, key: &str) -> Result<(), StorageError> {
        let io = |source| StorageError::Io { key: key.to_owned(), source };
        match &self.backend {
            Backend::Local => {
                let dest = self.root.join(key);
                if let Some(parent) = dest.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(io)?;
                }
                tokio::fs::rename(temp, dest).await.map_err(io)
            }
            Backend::Objects { store, url, cache } => {
                upload(store, temp, key).await.map_err(|e| match e {
                    UploadError::Io(source) => io(source),
                    UploadError::Object(source) => self.object_fault(url, key, source),
                })?;
                // The uploader is often the next reader (a clip is probed, then rendered).
                if cache.adopt(temp, key).await == temp {
                    let _ = tokio::fs::remove_file(temp).await;
                }
                Ok(())
            }
        }
    }

    /// Commits every `(file, key)` pair, or none: when one fails, those already stored are
    /// removed again, so a job's outputs are published together or not at all.
    pub async fn commit_all(&self, files: &[(PathBuf, String)]) -> Result<(), StorageError> {
        for (done, (file, key)) in files.iter().enumerate() {
            if let Err(err) = self.commit(file, key).await {
                for (_, stored) in &files[..done] {
                    let _ = self.remove(stored).await;
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// A local file holding `key`'s bytes, to read (GStreamer, range requests).
    pub async fn fetch(&self, key: &str) -> Result<PathBuf, StorageError> {
        match &self.backend {
            Backend::Local => {
                let path = self.root.join(key);
                match tokio::fs::metadata(&path).await {
                    Ok(_) => Ok(path),
                    Err(source) => Err(StorageError::Io { key: key.to_owned(), source }),
                }
            }
            Backend::Objects { store, url, cache } => {
                if let Some(path) = cache.hit(key).await {
                    return Ok(path);
                }
                let temp = self.temp_path();
                match download(store, key, &temp).await {
                    Ok(()) => Ok(cache.adopt(&temp, key).await),
                    Err(e) => {
                        let _ = tokio::fs::remove_file(&temp).await;
                        Err(match e {
                            UploadError::Io(source) => StorageError::Io { key: key.to_owned(), source },
                            UploadError::Object(source) => self.object_fault(url, key, source),
                        })
                    }
                }
            }
        }
    }

    /// Removes one stored file (a missing one is not an error).
    pub async fn remove(&self, key: &str) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Local => match tokio::fs::remove_file(self.root.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(StorageError::Io { key: key.to_owned(), source: e })
                }
                _ => Ok(()),
            },
            Backend::Objects { store, url, cache } => {
                cache.forget(key).await;
                match store.delete(&key.into()).await {
                    Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                    Err(e) => Err(object_error(url, key, e)),
                }
            }
        }
    }

    /// Size of the stored file `key`; `None` when there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match &self.backend {
            Backend::Local => match tokio::fs::metadata(self.root.join(key)).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(StorageError::Io { key: key.to_owned(), source }),
            },
            Backend::Objects { store, url, .. } => match store.head(&key.into()).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(object_error(url, key, e)),
            },
        }
    }

    /// Removes every file of a user; answers the bytes removed.
    pub async fn remove_user(&self, user: &str) -> Result<u64, StorageError> {
        self.remove_prefix(&format!("users/{user}")).await
    }

    /// Removes every file of a project; answers the bytes removed (to give back to the quota).
    pub async fn remove_project(&self, user: &str, project: &str) -> Result<u64, StorageError> {
        self.remove_prefix(&format!("users/{user}/projects/{project}")).await
    }

    async fn remove_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let remove_dir = |dir: PathBuf| async move {
            match tokio::fs::remove_dir_all(dir).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(StorageError::Io { key: prefix.to_owned(), source: e })
                }
                _ => Ok(()),
            }
        };
        match &self.backend {
            Backend::Local => {
                let bytes = self.prefix_bytes(prefix).await?;
                remove_dir(self.root.join(prefix)).await?;
                Ok(bytes)
            }
            Backend::Objects { store, url, cache } => {
                remove_dir(cache.dir().join(prefix)).await?;
                let mut listed = store.list(Some(&prefix.into()));
                let (mut bytes, mut locations) = (0, Vec::new());
                while let Some(meta) = listed.next().await {
                    let meta = meta.map_err(|e| object_error(url, prefix, e))?;
                    bytes += meta.size;
                    locations.push(Ok(meta.location));
                }
                let mut deleted = store.delete_stream(futures_util::stream::iter(locations).boxed());
                while let Some(result) = deleted.next().await {
                    match result {
                        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(object_error(url, prefix, e)),
                    }
                }
                Ok(bytes)
            }
        }
    }

    /// Bytes stored for a user, counted file by file (the quota's counter starts from it).
    pub async fn user_bytes(&self, user: &str) -> Result<u64, StorageError> {
        self.prefix_bytes(&format!("users/{user}")).await
    }

    async fn prefix_bytes(&self, prefix: &str) -> Result<u64, StorageError> {
        match &self.backend {
            Backend::Local => {
                let dir = self.root.join(prefix);
                tokio::task::spawn_blocking(move || cache::tree_bytes(&dir))
                    .await
                    .map_err(|e| StorageError::Io { key: prefix.to_owned(), source: std::io::Error::other(e) })
            }
            Backend::Objects { store, url, .. } => {
                let mut listed = store.list(Some(&prefix.into()));
                let mut total = 0;
                while let Some(meta) = listed.next().await {
                    total += meta.map_err(|e| object_error(url, prefix, e))?.size;
                }
                Ok(total)
            }
        }
    }

    /// [`Storage::probe`], at most once per [`PROBE_FRESH`] while it succeeds and no object
    /// operation has failed since; callers arriving during a probe wait for it. A failure is
    /// not remembered, so recovery shows at the next call.
    pub async fn probe_cached(&self) -> Result<(), StorageError> {
        let mut last = self.last_probe.lock().await;
        let fault = self.fault_seen.swap(false, std::sync::atomic::Ordering::Relaxed);
        if !fault && last.is_some_and(|at| at.elapsed() < PROBE_FRESH) {
            return Ok(());
        }
        self.probe().await?;
        *last = Some(Instant::now());
        Ok(())
    }

    /// An object store's error for `key`, remembered so that the next readiness check probes
    /// instead of trusting an earlier success.
    fn object_fault(&self, url: &str, key: &str, source: object_store::Error) -> StorageError {
        self.fault_seen.store(true, std::sync::atomic::Ordering::Relaxed);
        object_error(url, key, source)
    }

    /// Writes, reads back and removes a small file: the readiness check.
    pub async fn probe(&self) -> Result<(), StorageError> {
        let temp = self.temp_path();
        let io = |source| StorageError::Io { key: "tmp".into(), source };
        tokio::fs::write(&temp, b"ready").await.map_err(io)?;
        let result = match &self.backend {
            Backend::Local => Ok(()),
            Backend::Objects { store, url, .. } => {
                let key = format!("probe/{}", uuid::Uuid::new_v4());
                let path = object_store::path::Path::from(key.as_str());
                let checked = async {
                    store.put(&path, bytes::Bytes::from_static(b"ready").into()).await?;
                    let read = store.get(&path).await?.bytes().await?;
                    store.delete(&path).await?;
                    Ok::<_, object_store::Error>(read)
                };
                match checked.await {
                    Ok(read) if read.as_ref() == b"ready" => Ok(()),
                    Ok(_) => Err(StorageError::Config(format!("{url}: a probe object read back different bytes"))),
                    Err(e) => Err(object_error(url, &key, e)),
                }
            }
        };
        let _ = tokio::fs::remove_file(&temp).await;
        result
    }
}

fn object_error(url: &str, key: &str, source: object_store::Error) -> StorageError {
    StorageError::Object { store: url.to_owned(), key: key.to_owned(), source }
}

/// The S3 store (with its prefix) that `url` names.
fn object_store_for(url: &str, retry: Duration) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| StorageError::Config(format!("`{url}`: expected s3://bucket[/prefix]")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StorageError::Config(format!("`{url}`: no bucket name")));
    }
    let retry = RetryConfig { retry_timeout: retry, ..Default::default() };
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .build()
        .map_err(|e| StorageError::Config(format!("`{url}`: {e}")))?;
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) })
}

enum UploadError {
    Io(std::io::Error),
    Object(object_store::Error),
}

/// Streams a local file to `key`; parts of a multipart upload are aborted on failure.
async fn upload(store: &Arc<dyn ObjectStore>, file: &Path, key: &str) -> Result<(), UploadError> {
    let mut source = tokio::fs::File::open(file).await.map_err(UploadError::Io)?;
    let mut writer = BufWriter::new(store.clone(), key.into());
    if let Err(e) = tokio::io::copy(&mut source, &mut writer).await {
        let _ = writer.abort().await;
        return Err(unwrap_io(e));
    }
    // A failed completion cannot be aborted through the writer; the parts of an
    // incomplete multipart upload stay invisible (a bucket lifecycle rule reaps them).
    writer.shutdown().await.map_err(unwrap_io)
}

/// object_store's errors travel inside io::Error through AsyncWrite.
fn unwrap_io(err: std::io::Error) -> UploadError {
    if err.get_ref().is_some_and(|inner| inner.is::<object_store::Error>()) {
        let inner = err.into_inner().expect("checked above");
        return UploadError::Object(*inner.downcast::<object_store::Error>().expect("checked above"));
    }
    UploadError::Io(err)
}

/// Streams `key` into a local file.
async fn download(store: &Arc<dyn ObjectStore>, key: &str, file: &Path) -> Result<(), UploadError> {
    let got = store.get(&key.into()).await.map_err(UploadError::Object)?;
    let mut out = tokio::fs::File::create(file).await.map_err(UploadError::Io)?;
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(UploadError::Object)?).await.map_err(UploadError::Io)?;
    }
    out.flush().await.map_err(UploadError::Io)?;
    out.sync_all().await.map_err(UploadError::Io)
}

/// Deletes a temporary file when dropped, unless it was kept.
#[derive(Debug)]
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        TempFile { path: Some(path) }
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("not yet kept")
    }

    /// The file is no longer temporary (it was moved away).
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
