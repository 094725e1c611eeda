// SPDX-License-Identifier: MPL-2.0
//! A small ONNX model writer: float32 inputs, outputs and initializers, and nodes with int,
//! ints, float and tensor attributes. Enough to generate a model with the signature an element
//! expects (a face swapper, a lip-sync model, a voice converter) so the element's ONNX path can
//! be exercised without the real weights, which no open licence covers. No dependency: the
//! protobuf wire format of the few messages used is written by hand.

use std::path::{Path, PathBuf};

/// ONNX operator set the generated models declare.
pub const OPSET: i64 = 17;

/// ONNX IR version the generated models declare (ONNX 1.12+).
const IR_VERSION: i64 = 8;

/// ONNX `TensorProto.DataType` of float32.
pub const FLOAT: i64 = 1;

/// ONNX `TensorProto.DataType` of int64.
pub const INT64: i64 = 7;

/// One dimension of a declared input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A named dynamic size (`-1` in a manifest).
    Dynamic(String),
}

impl From<i64> for Dim {
    /// Negative sizes become dynamic dimensions named after their position.
    fn from(size: i64) -> Self {
        if size < 0 {
            Self::Dynamic(format!("d{}", -size))
        } else {
            Self::Fixed(size)
        }
    }
}

/// A node attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// One integer.
    Int(i64),
    /// A list of integers.
    Ints(Vec<i64>),
    /// One float.
    Float(f32),
    /// A float32 tensor (for `Constant`).
    Tensor {
        /// Tensor shape.
        dims: Vec<i64>,
        /// Values, row-major.
        data: Vec<f32>,
    },
}

/// A declared tensor: name, shape (negative = dynamic) and `TensorProto.DataType`.
type TensorSpec = (String, Vec<i64>, i64);

/// A graph under construction; [`Graph::to_model`] serialises it.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    /// Declared inputs and outputs, for the manifest.
    declared_inputs: Vec<TensorSpec>,
    declared_outputs: Vec<TensorSpec>,
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    initializers: Vec<Vec<u8>>,
    nodes: Vec<Vec<u8>>,
    metadata: Vec<(String, String)>,
}

/// How many speakers [`Graph::rvc_v2_signature`]'s speaker table holds.
pub const RVC_STANDIN_SPEAKERS: i64 = 4;

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a float32 graph input.
    pub fn input(self, name: &str, shape: &[i64]) -> Self {
        self.input_of(name, shape, FLOAT)
    }

    /// Declares a graph input of element type `data_type` ([`FLOAT`], [`INT64`]).
    pub fn input_of(mut self, name: &str, shape: &[i64], data_type: i64) -> Self {
        self.inputs.push(value_info(name, shape, data_type));
        self.declared_inputs.push((name.to_owned(), shape.to_vec(), data_type));
        self
    }

    /// Declares a float32 graph output.
    pub fn output(mut self, name: &str, shape: &[i64]) -> Self {
        self.outputs.push(value_info(name, shape, FLOAT));
        self.declared_outputs.push((name.to_owned(), shape.to_vec(), FLOAT));
        self
    }

    /// Declares RVC v2's six inputs and its output as its exporter names them (`phone`
    /// `[1, T, 768]`, `phone_lengths`, `pitch` (coarse, int64), `pitchf`, `ds` (the speaker id),
    /// `rnd` `[1, 192, T]`; `audio` `[1, 1, N]`), records `sr` as RVC's `model_info` does and
    /// carries the speaker table its exports do (`emb_g.weight`, one row of 256 for each of
    /// [`RVC_STANDIN_SPEAKERS`] speakers); the nodes that make `audio` are the caller's.
    pub fn rvc_v2_signature(self, sample_rate: u32) -> Self {
        self.rvc_inputs(768)
            .initializer("emb_g.weight", &[RVC_STANDIN_SPEAKERS, 256], &[0.0; RVC_STANDIN_SPEAKERS as usize * 256])
            .metadata("model_info", &format!(r#"{{"sr": {sample_rate}, "f0": 1, "version": "v2"}}"#))
    }

    /// RVC's six inputs and its output alone, with `content_width` content features a frame
    /// (768 in v2, 256 in v1): no speaker table, no recorded rate.
    pub fn rvc_inputs(self, content_width: i64) -> Self {
        self.input("phone", &[1, -1, content_width])
            .input_of("phone_lengths", &[1], INT64)
            .input_of("pitch", &[1, -1], INT64)
            .input("pitchf", &[1, -1])
            .input_of("ds", &[1], INT64)
            .input("rnd", &[1, 192, -1])
            .output("audio", &[1, 1, -1])
    }

    /// Adds a `metadata_props` entry to the model (exporters record sample rates there).
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds a float32 constant tensor usable as a node input.
    pub fn initializer(mut self, name: &str, dims: &[i64], data: &[f32]) -> Self {
        self.initializers.push(tensor(name, dims, data));
        self
    }

    /// Adds an int64 constant tensor (the shapes and axes `Reshape`, `Expand` and `Unsqueeze`
    /// take as inputs).
    pub fn initializer_i64(mut self, name: &str, dims: &[i64], data: &[i64]) -> Self {
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor_raw(name, dims, INT64, &raw));
        self
    }

    /// Adds node `op` (default domain) reading `inputs` and writing `outputs`.
    pub fn node(mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: &[(&str, Attr)]) -> Self {
        let mut node = Vec::new();
        for input in inputs {
            bytes(&mut node, 1, input.as_bytes());
        }
        for output in outputs {
            bytes(&mut node, 2, output.as_bytes());
        }
        bytes(&mut node, 3, format!("n{}", self.nodes.len()).as_bytes());
        bytes(&mut node, 4, op.as_bytes());
        for (name, attr) in attrs {
            bytes(&mut node, 5, &attribute(name, attr));
        }
        self.nodes.push(node);
        self
    }

    /// The serialised `ModelProto`.
    pub fn to_model(&self) -> Vec<u8> {
        let mut graph = Vec::new();
        for node in &self.nodes {
            bytes(&mut graph, 1, node);
        }
        bytes(&mut graph, 2, b"generated");
        for init in &self.initializers {
            bytes(&mut graph, 5, init);
        }
        for input in &self.inputs {
            bytes(&mut graph, 11, input);
        }
        for output in &self.outputs {
            bytes(&mut graph, 12, output);
        }
        let mut opset = Vec::new();
        bytes(&mut opset, 1, b"");
        int(&mut opset, 2, OPSET);
        let mut model = Vec::new();
        int(&mut model, 1, IR_VERSION);
        bytes(&mut model, 2, b"reenact-generated");
        bytes(&mut model, 7, &graph);
        bytes(&mut model, 8, &opset);
        for (key, value) in &self.metadata {
            let mut entry = Vec::new();
            bytes(&mut entry, 1, key.as_bytes());
            bytes(&mut entry, 2, value.as_bytes());
            bytes(&mut model, 14, &entry);
        }
        model
    }
}

impl Graph {
    /// Writes the model as `{name}.onnx` in `dir` with a `MANIFEST.{name}.toml` declaring its
    /// signature and checksum, as a user installing a model would; returns the model path.
    pub fn install(&self, dir: &Path, name: &str, task: &str) -> std::io::Result<PathBuf> {
        let file = format!("{name}.onnx");
        let path = dir.join(&file);
        std::fs::write(&path, self.to_model())?;
        let sha = crate::sha256_file(&path)?;
        let specs = |list: &[TensorSpec]| {
            list.iter()
                .map(|(n, shape, ty)| {
                    let dtype = if *ty == INT64 { "int64" } else { "float32" };
                    format!("{{ name = \"{n}\", shape = {shape:?}, dtype = \"{dtype}\" }}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let manifest = format!(
            "[[model]]\nname = \"{name}\"\nversion = \"generated\"\nfile = \"{file}\"\nsha256 = \"{sha}\"\n\
             license = \"generated\"\ntask = \"{task}\"\ninputs = [{}]\noutputs = [{}]\n",
            specs(&self.declared_inputs),
            specs(&self.declared_outputs)
        );
        std::fs::write(dir.join(format!("MANIFEST.{name}.toml")), manifest)?;
        Ok(path)
    }
}

/// Stand-ins for LivePortrait's four ONNX modules, with their file names: the signatures
/// `reenact models import --as portrait-animation` recognises and LivePortrait's pixel contract
/// (RGB 0..1 crops of 256 px in, 512 px out), built so the picture shows what the slot fed
/// them (no open licence covers the real weights):
///
/// - appearance: the 256 px crop averaged to 64 px, in the first three channels of the volume;
/// - motion: zero pose and expression, scale 1, fixed keypoints; translation = the centroid of
///   the red plane in the crop's [-1, 1] coordinates;
/// - warping (inputs in FasterLivePortrait's order: feature_3d, kp_driving, kp_source): the
///   appearance's picture at 512 px, moved by the mean of kp_driving - kp_source in x and y;
/// - stitching: moves the driving keypoints back by half their mean x, y motion.
///
/// So the animated picture is the portrait's crop, and it moves as the performer's crop
/// moves, by half as much with stitching.
pub fn liveportrait_standins() -> [(&'static str, Graph); 4] {
    [
        ("appearance_feature_extractor", liveportrait_appearance()),
        ("motion_extractor", liveportrait_motion()),
        ("warping_spade", liveportrait_warping()),
        ("stitching", liveportrait_stitching()),
    ]
}

fn liveportrait_appearance() -> Graph {
    Graph::new()
        .input("img", &[1, 3, 256, 256])
        .output("output", &[1, 32, 16, 64, 64])
        .initializer_i64("shape5", &[5], &[1, 3, 1, 64, 64])
        .initializer_i64("volume", &[5], &[1, 32, 16, 64, 64])
        .initializer("rest", &[1, 29, 1, 64, 64], &vec![0.0; 29 * 64 * 64])
        .node(
            "AveragePool",
            &["img"],
            &["small"],
            &[("kernel_shape", Attr::Ints(vec![4, 4])), ("strides", Attr::Ints(vec![4, 4]))],
        )
        .node("Reshape", &["small", "shape5"], &["small5"], &[])
        .node("Concat", &["small5", "rest"], &["slab"], &[("axis", Attr::Int(1))])
        .node("Expand", &["slab", "volume"], &["output"], &[])
}

/// The motion stand-in's canonical keypoints: a 7 x 3 grid.
fn canonical() -> Vec<f32> {
    (0..21).flat_map(|k| [(k % 7) as f32 * 0.2 - 0.6, (k / 7) as f32 * 0.3 - 0.3, 0.0]).collect()
}

fn liveportrait_motion() -> Graph {
    let ramp = |i: usize| (2 * i + 1) as f32 / 256.0 - 1.0;
    let xs: Vec<f32> = (0..256).map(ramp).collect();
    let mut pose = vec![0.0f32; 66];
    (pose[32], pose[33]) = (8.0, 8.0);
    let constant = |dims: &[i64], data: Vec<f32>| Attr::Tensor { dims: dims.to_vec(), data };
    let mean_all = [("axes", Attr::Ints(vec![1, 2, 3])), ("keepdims", Attr::Int(1))];
    Graph::new()
        .input("img", &[1, 3, 256, 256])
        .output("pitch", &[1, 66])
        .output("yaw", &[1, 66])
        .output("roll", &[1, 66])
        .output("t", &[1, 3])
        .output("exp", &[1, 63])
        .output("scale", &[1, 1])
        .output("kp", &[1, 63])
        .initializer("red", &[1, 3, 1, 1], &[1.0, 0.0, 0.0])
        .initializer("xramp", &[1, 1, 1, 256], &xs)
        .initializer("yramp", &[1, 1, 256, 1], &xs)
        .initializer("zero", &[1, 1, 1, 1], &[0.0])
        .initializer_i64("row3", &[2], &[1, 3])
        .node("Constant", &[], &["pitch"], &[("value", constant(&[1, 66], pose.clone()))])
        .node("Constant", &[], &["yaw"], &[("value", constant(&[1, 66], pose.clone()))])
        .node("Constant", &[], &["roll"], &[("value", constant(&[1, 66], pose))])
        .node("Constant", &[], &["exp"], &[("value", constant(&[1, 63], vec![0.0; 63]))])
        .node("Constant", &[], &["scale"], &[("value", constant(&[1, 1], vec![1.0]))])
        .node("Constant", &[], &["kp"], &[("value", constant(&[1, 63], canonical()))])
        .node("Conv", &["img", "red"], &["r"], &[])
        .node("Mul", &["r", "xramp"], &["rx"], &[])
        .node("Mul", &["r", "yramp"], &["ry"], &[])
        .node("ReduceMean", &["rx"], &["sx"], &mean_all)
        .node("ReduceMean", &["ry"], &["sy"], &mean_all)
        .node("ReduceMean", &["r"], &["s"], &mean_all)
        .node("Div", &["sx", "s"], &["cx"], &[])
        .node("Div", &["sy", "s"], &["cy"], &[])
        .node("Concat", &["cx", "cy", "zero"], &["c"], &[("axis", Attr::Int(3))])
        .node("Reshape", &["c", "row3"], &["t"], &[])
}

fn liveportrait_warping() -> Graph {
    let mut base = Vec::with_capacity(512 * 512 * 2);
    for y in 0..512 {
        for x in 0..512 {
            base.extend([(2 * x + 1) as f32 / 512.0 - 1.0, (2 * y + 1) as f32 / 512.0 - 1.0]);
        }
    }
    let mut pick = vec![0.0f32; 3 * 32];
    for c in 0..3 {
        pick[c * 32 + c] = 1.0;
    }
    Graph::new()
        .input("feature_3d", &[1, 32, 16, 64, 64])
        .input("kp_driving", &[1, 21, 3])
        .input("kp_source", &[1, 21, 3])
        .output("out", &[1, 3, 512, 512])
        .initializer("pick", &[3, 32, 1, 1], &pick)
        .initializer("xy", &[3, 2], &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
        .initializer("base", &[1, 512, 512, 2], &base)
        .node("ReduceMean", &["feature_3d"], &["flat"], &[("axes", Attr::Ints(vec![2])), ("keepdims", Attr::Int(0))])
        .node("Conv", &["flat", "pick"], &["picture"], &[])
        .node("Sub", &["kp_driving", "kp_source"], &["moved"], &[])
        .node("ReduceMean", &["moved"], &["mean"], &[("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))])
        .node("MatMul", &["mean", "xy"], &["shift"], &[])
        .node("Sub", &["base", "shift"], &["grid"], &[])
        .node("GridSample", &["picture", "grid"], &["out"], &[])
}

fn liveportrait_stitching() -> Graph {
    let mut m = vec![0.0f32; 126 * 65];
    for k in 0..21 {
        for axis in 0..2 {
            m[(3 * k + axis) * 65 + 63 + axis] = 0.5 / 21.0;
            m[(63 + 3 * k + axis) * 65 + 63 + axis] = -0.5 / 21.0;
        }
    }
    Graph::new().input("input", &[1, 126]).output("output", &[1, 65]).initializer("m", &[126, 65], &m).node(
        "MatMul",
        &["input", "m"],
        &["output"],
        &[],
    )
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn int(out: &mut Vec<u8>, field: u32, v: i64) {
    key(out, field, 0);
    // Two's complement, as protobuf encodes negative int64 values.
    varint(out, v as u64);
}

fn float(out: &mut Vec<u8>, field: u32, v: f32) {
    key(out, field, 5);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(out, field, 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// `ValueInfoProto` of a tensor.
fn value_info(name: &str, shape: &[i64], data_type: i64) -> Vec<u8> {
    let mut dims = Vec::new();
    for &size in shape {
        let mut dim = Vec::new();
        match Dim::from(size) {
            Dim::Fixed(size) => int(&mut dim, 1, size),
            Dim::Dynamic(param) => bytes(&mut dim, 2, param.as_bytes()),
        }
        bytes(&mut dims, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    int(&mut tensor_type, 1, data_type);
    bytes(&mut tensor_type, 2, &dims);
    let mut ty = Vec::new();
    bytes(&mut ty, 1, &tensor_type);
    let mut info = Vec::new();
    bytes(&mut info, 1, name.as_bytes());
    bytes(&mut info, 2, &ty);
    info
}

/// `TensorProto` of float32 values (raw little-endian data).
fn tensor(name: &str, dims: &[i64], data: &[f32]) -> Vec<u8> {
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor_raw(name, dims, FLOAT, &raw)
}

/// `TensorProto` of `data_type` with its values as raw little-endian bytes.
fn tensor_raw(name: &str, dims: &[i64], data_type: i64, raw: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        int(&mut t, 1, d);
    }
    int(&mut t, 2, data_type);
    bytes(&mut t, 8, name.as_bytes());
    bytes(&mut t, 9, raw);
    t
}

/// `AttributeProto`; the type codes are ONNX's `AttributeType`.
fn attribute(name: &str, attr: &Attr) -> Vec<u8> {
    let mut a = Vec::new();
    bytes(&mut a, 1, name.as_bytes());
    match attr {
        Attr::Float(v) => {
            float(&mut a, 2, *v);
            int(&mut a, 20, 1);
        }
        Attr::Int(v) => {
            int(&mut a, 3, *v);
            int(&mut a, 20, 2);
        }
        Attr::Tensor { dims, data } => {
            bytes(&mut a, 5, &tensor("", dims, data));
            int(&mut a, 20, 4);
        }
        Attr::Ints(values) => {
            for &v in values {
                int(&mut a, 8, v);
            }
            int(&mut a, 20, 7);
        }
    }
    a
}
