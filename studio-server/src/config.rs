// SPDX-License-Identifier: MPL-2.0
//! A configuration file for `reenact serve` and `reenact worker`: every key is
//! one of the environment variables the flags read, so there is one list of
//! settings (the README's) and one order of precedence: a flag wins over the
//! environment, the environment over the file, the file over the default.
//!
//! ```toml
//! database_url = "postgres://reenact@db/reenact"
//! data = "/srv/reenact"
//! listen = "0.0.0.0:8080"
//! workers = 0
//! ```

use std::path::{Path, PathBuf};

/// Environment variable naming the file (also `--config FILE`).
pub const CONFIG_ENV: &str = "REENACT_CONFIG";

/// File keys and the environment variable each one sets.
const KEYS: &[(&str, &str)] = &[
    ("database_url", "DATABASE_URL"),
    ("data", "REENACT_DATA"),
    ("listen", "REENACT_LISTEN"),
    ("workers", "REENACT_WORKERS"),
    ("upload_limit_mb", "REENACT_UPLOAD_LIMIT_MB"),
    ("quota_mb", "REENACT_QUOTA_MB"),
    ("max_active_jobs", "REENACT_MAX_ACTIVE_JOBS"),
    ("imports_allow_private", "REENACT_IMPORTS_ALLOW_PRIVATE"),
    ("installations", "REENACT_INSTALLATIONS"),
    ("live_shows_per_user", "REENACT_LIVE_SHOWS_PER_USER"),
    ("live_camera_users", "REENACT_LIVE_CAMERA_USERS"),
    ("admins", "REENACT_ADMINS"),
    ("ice_servers", "REENACT_ICE_SERVERS"),
    ("turn_secret", "REENACT_TURN_SECRET"),
    ("public_ip", "REENACT_PUBLIC_IP"),
    ("udp_ports", "REENACT_UDP_PORTS"),
    ("publisher_jitter_ms", "REENACT_PUBLISHER_JITTER_MS"),
    ("lease_s", "REENACT_LEASE_S"),
    ("storage", "REENACT_STORAGE"),
    ("storage_retry_s", "REENACT_STORAGE_RETRY_S"),
    ("cache_mb", "REENACT_CACHE_MB"),
    ("metrics_listen", "REENACT_METRICS_LISTEN"),
    ("jwt_secret", "REENACT_JWT_SECRET"),
    ("signing_cert", "REENACT_SIGNING_CERT"),
    ("signing_key", "REENACT_SIGNING_KEY"),
    ("signing_alg", "REENACT_SIGNING_ALG"),
    ("trusted_proxies", "REENACT_TRUSTED_PROXIES"),
    ("insecure_cookies", "REENACT_INSECURE_COOKIES"),
    ("models", "REENACT_MODELS"),
    ("presets", "REENACT_PRESETS"),
    ("onnxruntime", "ORT_DYLIB_PATH"),
    ("log", "RUST_LOG"),
    ("log_format", "REENACT_LOG_FORMAT"),
];

/// A file that cannot be used, named with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {cause}", file.display())]
    Unreadable { file: PathBuf, cause: String },
    #[error("{}: {key}: {cause}", file.display())]
    Invalid { file: PathBuf, key: String, cause: String },
}

/// The `(variable, value)` pairs `file` sets, checked: unknown keys and
/// values that are not strings, numbers or booleans are refused.
pub fn read(file: &Path) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ConfigError::Unreadable { file: file.to_path_buf(), cause: e.to_string() })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Unreadable { file: file.into(), cause: e.to_string() })?;
    let invalid = |key: &str, cause: String| ConfigError::Invalid { file: file.into(), key: key.into(), cause };
    let mut settings = Vec::new();
    for (key, value) in &table {
        let Some((_, var)) = KEYS.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            return Err(invalid(key, format!("unknown setting (known: {})", known.join(", "))));
        };
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(invalid(key, format!("expected a string or a number, found {}", other.type_str()))),
        };
        settings.push((*var, value));
    }
    Ok(settings)
}

/// The file named by `--config FILE` / `--config=FILE` in `args`, else by `REENACT_CONFIG`.
pub fn file_from(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(file) = arg.strip_prefix("--config=") {
            return Some(file.into());
        }
    }
    std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_their_variables_and_mistakes_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reenact.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nworkers = 0\n").unwrap();
        assert_eq!(
            read(&file).unwrap(),
            vec![("REENACT_LISTEN", "0.0.0.0:9000".into()), ("REENACT_WORKERS", "0".into())]
        );
        std::fs::write(&file, "listne = \"0.0.0.0:9000\"\n").unwrap();
        let err = read(&file).unwrap_err().to_string();
        assert!(err.contains("reenact.toml: listne: unknown setting") && err.contains("listen"), "{err}");
        std::fs::write(&file, "workers = [1]\n").unwrap();
        assert!(read(&file).unwrap_err().to_string().contains("workers: expected a string or a number"));
        std::fs::write(&file, "workers = \n").unwrap();
        assert!(read(&file).unwrap_err().to_string().contains("reenact.toml"));
    }

    #[test]
    fn the_file_comes_from_the_flag_first() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(file_from(&args(&["reenact", "serve", "--config", "a.toml"])), Some("a.toml".into()));
        assert_eq!(file_from(&args(&["reenact", "--config=b.toml", "worker"])), Some("b.toml".into()));
    }
}
