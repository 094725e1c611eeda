// SPDX-License-Identifier: MPL-2.0
//! What an ONNX file declares, read without ONNX Runtime: its inputs and outputs (name, element
//! type, shape), its initializers (name, type, dims), how many nodes of each operator it has,
//! and its `metadata_props`. Recognising a community model (`reenact models import`) needs the
//! initializers, which a runtime session does not show, and the faceswap element needs the
//! values of one of them (inswapper's `emap`).
//!
//! The file is read as a stream: weights are skipped with seeks, so a 500 MB swapper costs a
//! few thousand small reads. Only the protobuf fields used here are decoded; the rest are
//! skipped by wire type, so newer ONNX versions read the same.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::manifest::TensorSpec;

/// The most bytes of one small message (a value info, a metadata entry) read into memory.
const SMALL_MESSAGE_LIMIT: u64 = 1 << 20;

/// The most values an initializer read with [`read_initializer_f32`] may have.
const INITIALIZER_VALUE_LIMIT: u64 = 16 << 20;

/// Why an ONNX file's declarations cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The file cannot be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The bytes are not an ONNX model (truncated, or another format).
    #[error("{} is not an ONNX model: {problem} (at byte {offset})", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Where reading stopped.
        offset: u64,
        /// What was wrong there.
        problem: String,
    },
    /// A named initializer is absent or cannot be read as float32.
    #[error("{}: initializer `{name}`: {problem}", path.display())]
    Initializer {
        /// The file.
        path: PathBuf,
        /// The initializer.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

/// A constant tensor stored in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initializer {
    /// Its name.
    pub name: String,
    /// Element type, manifest spelling (`float32`, `int64`).
    pub dtype: String,
    /// Its dimensions.
    pub dims: Vec<i64>,
}

/// What an ONNX file declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphSignature {
    /// Graph inputs that are not initializers, in file order; dynamic dimensions are `-1`.
    pub inputs: Vec<TensorSpec>,
    /// Graph outputs, in file order.
    pub outputs: Vec<TensorSpec>,
    /// Initializers, in file order.
    pub initializers: Vec<Initializer>,
    /// Node count per operator type.
    pub ops: BTreeMap<String, usize>,
    /// `metadata_props` of the model.
    pub metadata: BTreeMap<String, String>,
}

impl GraphSignature {
    /// Reads the declarations of the ONNX file at `path`.
    pub fn read(path: &Path) -> Result<Self, SignatureError> {
        let file = File::open(path).map_err(|source| SignatureError::Io { path: path.to_owned(), source })?;
        let len = file.metadata().map_err(|source| SignatureError::Io { path: path.to_owned(), source })?.len();
        let mut wire = Wire { r: BufReader::new(file), pos: 0 };
        let mut signature = Self::default();
        read_model(&mut wire, len, &mut signature, None).map_err(|err| err.at(path, wire.pos))?;
        if signature.inputs.is_empty() && signature.outputs.is_empty() {
            return Err(SignatureError::Malformed {
                path: path.to_owned(),
                offset: 0,
                problem: "no graph inputs or outputs found".into(),
            });
        }
        let constants: std::collections::HashSet<_> = signature.initializers.iter().map(|i| i.name.clone()).collect();
        // Before IR 4 every initializer is also listed as a graph input.
        signature.inputs.retain(|input| !constants.contains(&input.name));
        Ok(signature)
    }

    /// The initializer called `name`.
    pub fn initializer(&self, name: &str) -> Option<&Initializer> {
        self.initializers.iter().find(|init| init.name == name)
    }

    /// Total node count.
    pub fn node_count(&self) -> usize {
        self.ops.values().sum()
    }
}

/// `name dtype [dims]` of a tensor, `-1` shown as `?`.
pub fn describe_tensor(spec: &TensorSpec) -> String {
    let shape = spec.shape.as_deref().map(describe_dims).unwrap_or_else(|| "[?]".into());
    format!("`{}` {} {shape}", spec.name, spec.dtype)
}

fn describe_dims(dims: &[i64]) -> String {
    let dims: Vec<String> = dims.iter().map(|&d| if d < 0 { "?".into() } else { d.to_string() }).collect();
    format!("[{}]", dims.join(", "))
}

impl fmt::Display for GraphSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |specs: &[TensorSpec]| specs.iter().map(describe_tensor).collect::<Vec<_>>().join(", ");
        write!(f, "inputs {}; outputs {}", list(&self.inputs), list(&self.outputs))?;
        write!(f, "; {} initializers", self.initializers.len())?;
        if let Some(last) = self.initializers.last() {
            write!(f, " (last `{}` {} {})", last.name, last.dtype, describe_dims(&last.dims))?;
        }
        write!(f, "; {} nodes", self.node_count())
    }
}

/// The float32 values of initializer `name` of the ONNX file at `path` (raw or `float_data`).
pub fn read_initializer_f32(path: &Path, name: &str) -> Result<(Vec<i64>, Vec<f32>), SignatureError> {
    let file = File::open(path).map_err(|source| SignatureError::Io { path: path.to_owned(), source })?;
    let len = file.metadata().map_err(|source| SignatureError::Io { path: path.to_owned(), source })?.len();
    let mut wire = Wire { r: BufReader::new(file), pos: 0 };
    let mut signature = GraphSignature::default();
    let mut found = None;
    read_model(&mut wire, len, &mut signature, Some((name, &mut found))).map_err(|err| err.at(path, wire.pos))?;
    let fail = |problem: String| SignatureError::Initializer { path: path.to_owned(), name: name.to_owned(), problem };
    let (init, values) = found.ok_or_else(|| fail("not in the graph".into()))?;
    if init.dtype != "float32" {
        return Err(fail(format!("is {}, not float32", init.dtype)));
    }
    let expected: i64 = init.dims.iter().product();
    if values.len() as i64 != expected {
        return Err(fail(format!("holds {} values, its dims {:?} say {expected}", values.len(), init.dims)));
    }
    Ok((init.dims, values))
}

/// An error while decoding, before the path is known.
enum WireError {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for WireError {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

impl WireError {
    fn at(self, path: &Path, offset: u64) -> SignatureError {
        match self {
            Self::Io(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                SignatureError::Malformed { path: path.to_owned(), offset, problem: "the file ends early".into() }
            }
            Self::Io(source) => SignatureError::Io { path: path.to_owned(), source },
            Self::Bad(problem) => SignatureError::Malformed { path: path.to_owned(), offset, problem },
        }
    }
}

type WireResult<T> = Result<T, WireError>;

/// A protobuf reader that knows its offset.
struct Wire<R> {
    r: R,
    pos: u64,
}

/// One field key: number and wire type.
#[derive(Clone, Copy)]
struct Key {
    field: u64,
    wire: u8,
}

impl<R: Read + Seek> Wire<R> {
    fn byte(&mut self) -> WireResult<u8> {
        let mut b = [0u8];
        self.r.read_exact(&mut b)?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> WireResult<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Bad("a varint longer than 10 bytes".into()))
    }

    fn key(&mut self) -> WireResult<Key> {
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        if key >> 3 == 0 {
            return Err(WireError::Bad("field number 0".into()));
        }
        Ok(Key { field: key >> 3, wire })
    }

    /// The length of a length-delimited field, checked against the enclosing message's end.
    fn len(&mut self, end: u64) -> WireResult<u64> {
        let len = self.varint()?;
        if self.pos.checked_add(len).is_none_or(|field_end| field_end > end) {
            return Err(WireError::Bad(format!("a field of {len} bytes runs past its message")));
        }
        Ok(len)
    }

    fn bytes(&mut self, len: u64) -> WireResult<Vec<u8>> {
        if len > SMALL_MESSAGE_LIMIT {
            return Err(WireError::Bad(format!("a {len}-byte field where a small one was expected")));
        }
        let mut buf = vec![0u8; len as usize];
        self.r.read_exact(&mut buf)?;
        self.pos += len;
        Ok(buf)
    }

    fn string(&mut self, end: u64) -> WireResult<String> {
        let len = self.len(end)?;
        String::from_utf8(self.bytes(len)?).map_err(|_| WireError::Bad("a name that is not UTF-8".into()))
    }

    fn skip_bytes(&mut self, len: u64) -> WireResult<()> {
        // Short skips read through the buffer; long ones (weights) seek.
        if len <= 1 << 16 {
            let copied = io::copy(&mut (&mut self.r).take(len), &mut io::sink())?;
            if copied != len {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        } else {
            self.r.seek(SeekFrom::Current(len as i64))?;
        }
        self.pos += len;
        Ok(())
    }

    fn skip(&mut self, key: Key, end: u64) -> WireResult<()> {
        match key.wire {
            0 => self.varint().map(drop),
            1 => self.skip_bytes(8),
            2 => {
                let len = self.len(end)?;
                self.skip_bytes(len)
            }
            5 => self.skip_bytes(4),
            other => Err(WireError::Bad(format!("wire type {other} (field {})", key.field))),
        }
    }

    /// Reads repeated int64 values, packed or not, appending to `out`.
    fn int64s(&mut self, key: Key, end: u64, out: &mut Vec<i64>) -> WireResult<()> {
        match key.wire {
            0 => out.push(self.varint()? as i64),
            2 => {
                let len = self.len(end)?;
                let stop = self.pos + len;
                while self.pos < stop {
                    out.push(self.varint()? as i64);
                }
            }
            _ => return self.skip(key, end),
        }
        Ok(())
    }
}

type Wanted<'a> = Option<(&'a str, &'a mut Option<(Initializer, Vec<f32>)>)>;

fn read_model<R: Read + Seek>(
    wire: &mut Wire<R>,
    end: u64,
    signature: &mut GraphSignature,
    mut wanted: Wanted<'_>,
) -> WireResult<()> {
    let mut saw_graph = false;
    while wire.pos < end {
        let key = wire.key()?;
        match (key.field, key.wire) {
            (7, 2) => {
                let len = wire.len(end)?;
                let stop = wire.pos + len;
                read_graph(wire, stop, signature, wanted.as_mut().map(|(n, f)| (*n, &mut **f)))?;
                saw_graph = true;
            }
            (14, 2) => {
                let len = wire.len(end)?;
                let stop = wire.pos + len;
                let (mut k, mut v) = (String::new(), String::new());
                while wire.pos < stop {
                    let inner = wire.key()?;
                    match (inner.field, inner.wire) {
                        (1, 2) => k = wire.string(stop)?,
                        (2, 2) => v = wire.string(stop)?,
                        _ => wire.skip(inner, stop)?,
                    }
                }
                signature.metadata.insert(k, v);
            }
            _ => wire.skip(key, end)?,
        }
    }
    if !saw_graph {
        return Err(WireError::Bad("no graph (ModelProto field 7)".into()));
    }
    Ok(())
}

fn read_graph<R: Read + Seek>(
    wire: &mut Wire<R>,
    end: u64,
    signature: &mut GraphSignature,
    mut wanted: Wanted<'_>,
) -> WireResult<()> {
    while wire.pos < end {
        let key = wire.key()?;
        if key.wire != 2 {
            wire.skip(key, end)?;
            continue;
        }
        let len = wire.len(end)?;
        let stop = wire.pos + len;
        match key.field {
            1 => {
                let op = read_node_op(wire, stop)?;
                *signature.ops.entry(op).or_default() += 1;
            }
            5 => {
                let want = wanted.as_ref().map(|(name, _)| *name);
                let (init, values) = read_tensor(wire, stop, want)?;
                if let (Some(values), Some((_, found))) = (values, wanted.as_mut()) {
                    **found = Some((init.clone(), values));
                }
                signature.initializers.push(init);
            }
            11 | 12 => {
                let buf = wire.bytes(len)?;
                let spec = read_value_info(&buf)?;
                if key.field == 11 { &mut signature.inputs } else { &mut signature.outputs }.push(spec);
            }
            _ => wire.skip_bytes(len)?,
        }
        if wire.pos != stop {
            return Err(WireError::Bad("a graph field overruns its length".into()));
        }
    }
    Ok(())
}

fn read_node_op<R: Read + Seek>(wire: &mut Wire<R>, end: u64) -> WireResult<String> {
    let mut op = String::new();
    while wire.pos < end {
        let key = wire.key()?;
        match (key.field, key.wire) {
            (4, 2) => op = wire.string(end)?,
            _ => wire.skip(key, end)?,
        }
    }
    Ok(op)
}

/// A `TensorProto`'s name, type and dims; its float32 values too when its name is `want`.
fn read_tensor<R: Read + Seek>(
    wire: &mut Wire<R>,
    end: u64,
    want: Option<&str>,
) -> WireResult<(Initializer, Option<Vec<f32>>)> {
    let mut init = Initializer { name: String::new(), dtype: String::new(), dims: Vec::new() };
    let mut data_type = 0;
    // Values are kept until the name is known; the name usually comes after dims, before data.
    let mut raw: Option<Vec<u8>> = None;
    let mut floats: Vec<f32> = Vec::new();
    while wire.pos < end {
        let key = wire.key()?;
        match (key.field, key.wire) {
            (1, _) => wire.int64s(key, end, &mut init.dims)?,
            (2, 0) => data_type = wire.varint()?,
            (8, 2) => init.name = wire.string(end)?,
            (9, 2) if want.is_some_and(|w| w == init.name) => {
                let len = wire.len(end)?;
                if len / 4 > INITIALIZER_VALUE_LIMIT {
                    return Err(WireError::Bad(format!("initializer `{}` is too large to read", init.name)));
                }
                let mut buf = vec![0u8; len as usize];
                wire.r.read_exact(&mut buf)?;
                wire.pos += len;
                raw = Some(buf);
            }
            // float_data (4) precedes name (8) in file order: keep it while it is small.
            (4, 2) if want.is_some() => {
                let len = wire.len(end)?;
                if len / 4 > INITIALIZER_VALUE_LIMIT {
                    wire.skip_bytes(len)?;
                    continue;
                }
                let mut buf = vec![0u8; len as usize];
                wire.r.read_exact(&mut buf)?;
                wire.pos += len;
                floats.extend(buf.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            }
            _ => wire.skip(key, end)?,
        }
    }
    init.dtype = dtype_name(data_type);
    let matched = want.is_some_and(|w| w == init.name);
    let values = matched.then(|| match raw {
        Some(bytes) => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        None => floats,
    });
    Ok((init, values))
}

/// A `ValueInfoProto` (in memory): name, tensor element type, shape.
fn read_value_info(buf: &[u8]) -> WireResult<TensorSpec> {
    let end = buf.len() as u64;
    let mut wire = Wire { r: io::Cursor::new(buf), pos: 0 };
    let mut name = String::new();
    let (mut dtype, mut shape) = (String::from("unknown"), None);
    while wire.pos < end {
        let key = wire.key()?;
        match (key.field, key.wire) {
            (1, 2) => name = wire.string(end)?,
            (2, 2) => {
                // TypeProto { tensor_type = 1: { elem_type = 1, shape = 2 } }
                let len = wire.len(end)?;
                let stop = wire.pos + len;
                while wire.pos < stop {
                    let ty = wire.key()?;
                    if (ty.field, ty.wire) != (1, 2) {
                        wire.skip(ty, stop)?;
                        continue;
                    }
                    let len = wire.len(stop)?;
                    let tensor_end = wire.pos + len;
                    while wire.pos < tensor_end {
                        let field = wire.key()?;
                        match (field.field, field.wire) {
                            (1, 0) => dtype = dtype_name(wire.varint()?),
                            (2, 2) => {
                                let len = wire.len(tensor_end)?;
                                let stop = wire.pos + len;
                                shape = Some(read_shape(&mut wire, stop)?);
                            }
                            _ => wire.skip(field, tensor_end)?,
                        }
                    }
                }
            }
            _ => wire.skip(key, end)?,
        }
    }
    Ok(TensorSpec { name, shape, dtype, extra: BTreeMap::new() })
}

fn read_shape<R: Read + Seek>(wire: &mut Wire<R>, end: u64) -> WireResult<Vec<i64>> {
    let mut dims = Vec::new();
    while wire.pos < end {
        let key = wire.key()?;
        if (key.field, key.wire) != (1, 2) {
            wire.skip(key, end)?;
            continue;
        }
        let len = wire.len(end)?;
        let stop = wire.pos + len;
        let mut dim = -1;
        while wire.pos < stop {
            let field = wire.key()?;
            match (field.field, field.wire) {
                (1, 0) => dim = wire.varint()? as i64,
                _ => wire.skip(field, stop)?,
            }
        }
        dims.push(if dim <= 0 { -1 } else { dim });
    }
    Ok(dims)
}

/// The manifest spelling of an ONNX `TensorProto.DataType`.
fn dtype_name(code: u64) -> String {
    match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => return format!("type{code}"),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, INT64};

    fn write(graph: &Graph) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.onnx");
        std::fs::write(&path, graph.to_model()).expect("write");
        (dir, path)
    }

    #[test]
    fn reads_inputs_outputs_initializers_ops_and_metadata() {
        let emap: Vec<f32> = (0..6).map(|v| v as f32 * 0.5).collect();
        let graph = Graph::new()
            .input("x", &[-1, 3])
            .input_of("sid", &[1], INT64)
            .output("y", &[-1, 2])
            .initializer("w", &[3, 2], &emap)
            .node("MatMul", &["x", "w"], &["y"], &[])
            .metadata("sr", "40000");
        let (_dir, path) = write(&graph);
        let sig = GraphSignature::read(&path).expect("reads");
        assert_eq!(sig.inputs.len(), 2);
        assert_eq!(sig.inputs[0].shape.as_deref(), Some(&[-1, 3][..]));
        assert_eq!(sig.inputs[1].dtype, "int64");
        assert_eq!(sig.outputs[0].name, "y");
        assert_eq!(sig.initializer("w").map(|i| i.dims.clone()), Some(vec![3, 2]));
        assert_eq!(sig.ops.get("MatMul"), Some(&1));
        assert_eq!(sig.metadata.get("sr").map(String::as_str), Some("40000"));
        let (dims, values) = read_initializer_f32(&path, "w").expect("values");
        assert_eq!((dims, values), (vec![3, 2], emap));
        let err = read_initializer_f32(&path, "nope").expect_err("absent");
        assert!(err.to_string().contains("`nope`: not in the graph"), "{err}");
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        let graph = Graph::new().input("x", &[1]).output("y", &[1]).node("Identity", &["x"], &["y"], &[]);
        let (dir, path) = write(&graph);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 7]).expect("truncate");
        let err = GraphSignature::read(&path).expect_err("truncated");
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
        let png = dir.path().join("p.onnx");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n0000000000000000").expect("write");
        let err = GraphSignature::read(&png).expect_err("not onnx");
        assert!(err.to_string().contains("is not an ONNX model"), "{err}");
    }
}
