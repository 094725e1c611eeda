// SPDX-License-Identifier: MPL-2.0
//! ONNX Runtime sessions for catalog models.
//!
//! ONNX Runtime is loaded at run time (`ort` with `load-dynamic`) from `ORT_DYLIB_PATH`, else
//! from the copy `scripts/setup.sh` installs from the `onnxruntime` wheel into
//! `<user data dir>/reenact/onnxruntime/<ONNXRUNTIME_VERSION>`. The library is loaded once per
//! process. A [`OnnxSession`] is opened by model name: the catalog verifies the file's checksum,
//! the session's declared inputs and outputs are checked against the manifest, and execution
//! providers are tried TensorRT -> CUDA -> CPU (the GPU ones only with the `gpu` feature).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::lookup::{Catalog, CatalogEntry, ModelError};
use crate::manifest::TensorSpec;

/// Environment variable naming the ONNX Runtime shared library, tried first.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// The `onnxruntime` wheel version `scripts/setup.sh` installs; `ort` 2.0.0-rc.13 targets its
/// C API (1.28).
pub const ONNXRUNTIME_VERSION: &str = "1.28.0";

/// Why ONNX Runtime or a model session cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// No ONNX Runtime shared library was found.
    #[error(
        "ONNX Runtime library (libonnxruntime.so) not found; looked in: {}. Run scripts/setup.sh, \
         or set {ORT_DYLIB_ENV} to the library's path",
        display_paths(searched)
    )]
    RuntimeMissing {
        /// Every place that was looked at, in order.
        searched: Vec<PathBuf>,
    },
    /// The library exists but could not be loaded.
    #[error("cannot load ONNX Runtime from {}: {message}", path.display())]
    RuntimeLoad {
        /// The library file.
        path: PathBuf,
        /// What the loader said.
        message: String,
    },
    /// The model is unknown, missing or corrupt (checksum mismatch).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// ONNX Runtime could not create a session from the file (truncated or not an ONNX model).
    #[error("model `{name}`: ONNX Runtime cannot load {}: {message}", path.display())]
    Load {
        /// The model name.
        name: String,
        /// The model file.
        path: PathBuf,
        /// What ONNX Runtime said.
        message: String,
    },
    /// The model's declared inputs or outputs differ from its manifest entry.
    #[error("model `{name}` ({}) does not match its manifest {}: {problem}", path.display(), manifest.display())]
    Signature {
        /// The model name.
        name: String,
        /// The model file.
        path: PathBuf,
        /// The manifest that declares the signature.
        manifest: PathBuf,
        /// The first difference found.
        problem: String,
    },
    /// The caller passed inputs that do not fit the model.
    #[error("model `{name}`: bad input: {message}")]
    Input {
        /// The model name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Inference failed.
    #[error("model `{name}`: inference failed: {message}")]
    Run {
        /// The model name.
        name: String,
        /// What ONNX Runtime said.
        message: String,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nowhere".into();
    }
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Where ONNX Runtime may be found, in lookup order, for the given `ORT_DYLIB_PATH` value and
/// install root (`<user data dir>/reenact/onnxruntime`).
fn runtime_candidates(env: Option<OsString>, install_root: Option<&Path>) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(path));
    }
    if let Some(root) = install_root {
        candidates.push(root.join(ONNXRUNTIME_VERSION).join("onnxruntime").join("capi"));
    }
    candidates
}

/// Finds the library: a candidate that is a file is taken as is, a directory is searched for
/// `libonnxruntime.so*`.
fn locate_runtime(candidates: &[PathBuf]) -> Result<PathBuf, OnnxError> {
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
        if let Ok(read) = std::fs::read_dir(candidate) {
            let mut libs: Vec<PathBuf> = read
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so"))
                        && p.is_file()
                })
                .collect();
            libs.sort();
            if let Some(lib) = libs.pop() {
                return Ok(lib);
            }
        }
    }
    Err(OnnxError::RuntimeMissing { searched: candidates.to_vec() })
}

/// The install root `scripts/setup.sh` uses: `<user data dir>/reenact/onnxruntime`.
pub fn runtime_install_root() -> Option<PathBuf> {
    crate::user_data_dir().map(|dir| dir.join("reenact").join("onnxruntime"))
}

/// The outcome of the one load attempt per process.
#[derive(Debug, Clone)]
enum RuntimeState {
    Loaded(PathBuf),
    Missing(Vec<PathBuf>),
    Failed(PathBuf, String),
}

static RUNTIME: OnceLock<RuntimeState> = OnceLock::new();

/// Loads ONNX Runtime once per process and returns the library's path.
pub fn init_runtime() -> Result<PathBuf, OnnxError> {
    let state = RUNTIME.get_or_init(|| {
        let candidates = runtime_candidates(std::env::var_os(ORT_DYLIB_ENV), runtime_install_root().as_deref());
        let Ok(path) = locate_runtime(&candidates) else { return RuntimeState::Missing(candidates) };
        match ort::init_from(&path) {
            Ok(builder) => {
                builder.with_name("reenact").commit();
                tracing::info!(library = %path.display(), "loaded ONNX Runtime");
                RuntimeState::Loaded(path)
            }
            Err(err) => RuntimeState::Failed(path, err.to_string()),
        }
    });
    match state.clone() {
        RuntimeState::Loaded(path) => Ok(path),
        RuntimeState::Missing(searched) => Err(OnnxError::RuntimeMissing { searched }),
        RuntimeState::Failed(path, message) => Err(OnnxError::RuntimeLoad { path, message }),
    }
}

/// The execution provider a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// NVIDIA TensorRT (feature `gpu`).
    TensorRt,
    /// NVIDIA CUDA (feature `gpu`).
    Cuda,
    /// The default CPU provider.
    Cpu,
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TensorRt => "TensorRT",
            Self::Cuda => "CUDA",
            Self::Cpu => "CPU",
        })
    }
}

/// How a session is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads used inside one operator (ONNX Runtime intra-op threads).
    pub intra_threads: usize,
    /// Whether the GPU providers may be tried (only has an effect with the `gpu` feature).
    pub allow_gpu: bool,
    /// Whether idle intra-op threads spin while they wait for the next operator. ONNX Runtime
    /// does by default; here it is off, because a spinning thread holds a core that the
    /// studio's other elements need, and on a machine with fewer free cores than threads it
    /// slows this session too (bench/RESULTS.md, "ONNX Runtime's threads").
    pub spin: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { intra_threads: 1, allow_gpu: true, spin: false }
    }
}

/// One input tensor; its shape is the manifest's, with dynamic dimensions given by `shape`.
#[derive(Debug, Clone, Copy)]
pub enum TensorInput<'a> {
    /// float32 data in row-major order.
    F32 {
        /// The tensor shape.
        shape: &'a [i64],
        /// The values.
        data: &'a [f32],
    },
    /// int64 data in row-major order.
    I64 {
        /// The tensor shape.
        shape: &'a [i64],
        /// The values.
        data: &'a [i64],
    },
}

/// A session for one catalog model whose signature matched its manifest.
pub struct OnnxSession {
    session: Session,
    entry: CatalogEntry,
    provider: ExecutionProvider,
}

impl fmt::Debug for OnnxSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxSession")
            .field("model", &self.entry.model.name)
            .field("path", &self.entry.path)
            .field("provider", &self.provider)
            .finish()
    }
}

impl OnnxSession {
    /// Opens model `name` of `catalog`: checksum, session creation, signature check.
    pub fn open(catalog: &Catalog, name: &str, options: SessionOptions) -> Result<Self, OnnxError> {
        let path = catalog.get(name)?;
        let entry = catalog.entry(name).cloned().ok_or_else(|| ModelError::Unknown {
            name: name.to_owned(),
            searched: catalog.searched_dirs().to_vec(),
            absent: catalog.absent_dirs().to_vec(),
        })?;
        debug_assert_eq!(path, entry.path);
        init_runtime()?;
        let (session, provider) = build_session(&entry, options)?;
        check_signature(&entry, &session)?;
        tracing::info!(model = %entry.model.name, provider = %provider, threads = options.intra_threads, "ONNX session ready");
        Ok(Self { session, entry, provider })
    }

    /// The manifest entry and resolved path of the model.
    pub fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// The execution provider that was chosen.
    pub fn provider(&self) -> ExecutionProvider {
        self.provider
    }

    /// Runs the model on `inputs` (manifest order) and appends each float32 output, in manifest
    /// order, to the matching `outputs` vector (cleared first).
    pub fn run_f32(&mut self, inputs: &[TensorInput<'_>], outputs: &mut [Vec<f32>]) -> Result<(), OnnxError> {
        let name = &self.entry.model.name;
        let input_err = |message: String| OnnxError::Input { name: name.clone(), message };
        if inputs.len() != self.entry.model.inputs.len() {
            return Err(input_err(format!(
                "{} inputs given, the model takes {}",
                inputs.len(),
                self.entry.model.inputs.len()
            )));
        }
        if outputs.len() != self.entry.model.outputs.len() {
            return Err(input_err(format!(
                "{} output buffers given, the model has {} outputs",
                outputs.len(),
                self.entry.model.outputs.len()
            )));
        }
        let run_err = |err: ort::Error| OnnxError::Run { name: name.clone(), message: err.to_string() };
        let mut values = Vec::with_capacity(inputs.len());
        for (spec, input) in self.entry.model.inputs.iter().zip(inputs) {
            let value = match *input {
                TensorInput::F32 { shape, data } => {
                    check_len(spec, shape, data.len()).map_err(input_err)?;
                    TensorRef::from_array_view((shape.to_vec(), data)).map_err(run_err)?.into_dyn()
                }
                TensorInput::I64 { shape, data } => {
                    check_len(spec, shape, data.len()).map_err(input_err)?;
                    TensorRef::from_array_view((shape.to_vec(), data)).map_err(run_err)?.into_dyn()
                }
            };
            values.push((spec.name.as_str(), value));
        }
        let result = self.session.run(values).map_err(run_err)?;
        for (spec, out) in self.entry.model.outputs.iter().zip(outputs.iter_mut()) {
            let value = result.get(spec.name.as_str()).ok_or_else(|| OnnxError::Run {
                name: name.clone(),
                message: format!("output `{}` is missing", spec.name),
            })?;
            let (_, data) = value.try_extract_tensor::<f32>().map_err(run_err)?;
            out.clear();
            out.extend_from_slice(data);
        }
        Ok(())
    }
}

fn check_len(spec: &TensorSpec, shape: &[i64], len: usize) -> Result<(), String> {
    if let Some(expected) = &spec.shape {
        let fits = expected.len() == shape.len() && expected.iter().zip(shape).all(|(&e, &s)| e < 0 || e == s);
        if !fits {
            return Err(format!("input `{}` has shape {shape:?}, the manifest says {expected:?}", spec.name));
        }
    }
    let count = shape.iter().try_fold(1usize, |acc, &d| usize::try_from(d).ok().and_then(|d| acc.checked_mul(d)));
    if count != Some(len) {
        return Err(format!("input `{}` has {len} values for shape {shape:?}", spec.name));
    }
    Ok(())
}

fn build_session(entry: &CatalogEntry, options: SessionOptions) -> Result<(Session, ExecutionProvider), OnnxError> {
    let name = &entry.model.name;
    let load_err = |message: String| OnnxError::Load { name: name.clone(), path: entry.path.clone(), message };
    // Builder errors carry the builder and are neither Send nor Sync: keep only their text.
    let mut builder = Session::builder()
        .map_err(|e| load_err(e.to_string()))?
        .with_intra_threads(options.intra_threads.max(1))
        .map_err(|e| load_err(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| load_err(e.to_string()))?
        .with_intra_op_spinning(options.spin)
        .map_err(|e| load_err(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| load_err(e.to_string()))?;
    let provider = choose_provider(&mut builder, options);
    let session = builder.commit_from_file(&entry.path).map_err(|e| load_err(e.to_string()))?;
    Ok((session, provider))
}

#[cfg(feature = "gpu")]
fn choose_provider(builder: &mut ort::session::builder::SessionBuilder, options: SessionOptions) -> ExecutionProvider {
    use ort::ep::{TensorRT, CUDA};
    if !options.allow_gpu {
        return ExecutionProvider::Cpu;
    }
    let tries: [(ExecutionProvider, &dyn ort::ep::ExecutionProvider); 2] =
        [(ExecutionProvider::TensorRt, &TensorRT::default()), (ExecutionProvider::Cuda, &CUDA::default())];
    for (kind, ep) in tries {
        if !ep.is_available().unwrap_or(false) {
            tracing::debug!(provider = %kind, "execution provider not compiled into this ONNX Runtime");
            continue;
        }
        match ep.register(builder) {
            Ok(()) => return kind,
            Err(err) => tracing::warn!(provider = %kind, "execution provider unusable, trying the next: {err}"),
        }
    }
    ExecutionProvider::Cpu
}

#[cfg(not(feature = "gpu"))]
fn choose_provider(
    _builder: &mut ort::session::builder::SessionBuilder,
    _options: SessionOptions,
) -> ExecutionProvider {
    ExecutionProvider::Cpu
}

/// The manifest spelling of an ONNX element type.
fn dtype_name(ty: TensorElementType) -> String {
    match ty {
        TensorElementType::Float32 => "float32".into(),
        TensorElementType::Float64 => "float64".into(),
        TensorElementType::Float16 => "float16".into(),
        TensorElementType::Int64 => "int64".into(),
        TensorElementType::Int32 => "int32".into(),
        TensorElementType::Int16 => "int16".into(),
        TensorElementType::Int8 => "int8".into(),
        TensorElementType::Uint8 => "uint8".into(),
        TensorElementType::Bool => "bool".into(),
        TensorElementType::String => "string".into(),
        other => other.to_string(),
    }
}

/// Compares the session's inputs and outputs with the manifest: count, names, element type,
/// rank and every dimension that both sides fix.
fn check_signature(entry: &CatalogEntry, session: &Session) -> Result<(), OnnxError> {
    let fail = |problem: String| OnnxError::Signature {
        name: entry.model.name.clone(),
        path: entry.path.clone(),
        manifest: entry.manifest.clone(),
        problem,
    };
    let sides = [("input", &entry.model.inputs, session.inputs()), ("output", &entry.model.outputs, session.outputs())];
    for (kind, specs, outlets) in sides {
        if specs.len() != outlets.len() {
            return Err(fail(format!(
                "the model has {} {kind}s, the manifest declares {}",
                outlets.len(),
                specs.len()
            )));
        }
        for (index, (spec, outlet)) in specs.iter().zip(outlets).enumerate() {
            if spec.name != outlet.name() {
                return Err(fail(format!(
                    "{kind} #{index} is named `{}` in the model, `{}` in the manifest",
                    outlet.name(),
                    spec.name
                )));
            }
            let ValueType::Tensor { ty, shape, .. } = outlet.dtype() else {
                return Err(fail(format!("{kind} `{}` is not a tensor", spec.name)));
            };
            let dtype = dtype_name(*ty);
            if dtype != spec.dtype {
                return Err(fail(format!(
                    "{kind} `{}` is {dtype} in the model, {} in the manifest",
                    spec.name, spec.dtype
                )));
            }
            let Some(expected) = &spec.shape else { continue };
            let actual: Vec<i64> = shape.iter().copied().collect();
            let same =
                expected.len() == actual.len() && expected.iter().zip(&actual).all(|(&e, &a)| e < 0 || a < 0 || e == a);
            if !same {
                return Err(fail(format!(
                    "{kind} `{}` has shape {actual:?} in the model, {expected:?} in the manifest",
                    spec.name
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_path_comes_first() {
        let root = Path::new("/data/reenact/onnxruntime");
        let candidates = runtime_candidates(Some("/opt/ort/libonnxruntime.so".into()), Some(root));
        assert_eq!(candidates[0], Path::new("/opt/ort/libonnxruntime.so"));
        assert!(candidates[1].starts_with(root.join(ONNXRUNTIME_VERSION)), "{candidates:?}");
        assert_eq!(runtime_candidates(Some(OsString::new()), None), Vec::<PathBuf>::new());
    }

    #[test]
    fn missing_runtime_names_places_and_setup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let candidates = runtime_candidates(Some(dir.path().join("nope.so").into()), Some(dir.path()));
        let err = locate_runtime(&candidates).expect_err("nothing there");
        let text = err.to_string();
        assert!(text.contains("nope.so") && text.contains(ONNXRUNTIME_VERSION), "{text}");
        assert!(text.contains("scripts/setup.sh") && text.contains(ORT_DYLIB_ENV), "{text}");
    }

    #[test]
    fn library_is_found_in_install_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let capi = dir.path().join(ONNXRUNTIME_VERSION).join("onnxruntime").join("capi");
        std::fs::create_dir_all(&capi).expect("mkdir");
        std::fs::write(capi.join("libonnxruntime.so.1.28.0"), b"").expect("write");
        let found = locate_runtime(&runtime_candidates(None, Some(dir.path()))).expect("found");
        assert!(found.ends_with("libonnxruntime.so.1.28.0"), "{found:?}");
    }

    #[test]
    fn input_length_is_checked_against_shape() {
        let spec = TensorSpec {
            name: "x".into(),
            shape: Some(vec![1, -1, 3]),
            dtype: "float32".into(),
            extra: Default::default(),
        };
        assert!(check_len(&spec, &[1, 4, 3], 12).is_ok());
        assert!(check_len(&spec, &[1, 4, 3], 11).unwrap_err().contains("11 values"));
        assert!(check_len(&spec, &[2, 4, 3], 24).unwrap_err().contains("manifest says"));
    }
}
