# SPDX-License-Identifier: MPL-2.0
"""Converts a MediaPipe .tflite model to ONNX, as `reenact models install` needs it.

Usage: python3 tflite_to_onnx.py OUT.onnx[.part] IN.tflite [LAYOUT.json]
(tf2onnx is run on a copy of IN called <OUT's name>.tflite, as the reference was.)

1. tf2onnx (pinned in tflite_to_onnx.txt) converts the .tflite at opset 17.
2. MediaPipe's custom op Convolution2DTransposeBias, which tf2onnx leaves as an unknown node,
   becomes a standard ConvTranspose between two Transposes (NHWC in and out).
3. tf2onnx names what it generates from a process-wide counter whose value differs from run
   to run, and the order of its nodes and initializers can differ too, so two conversions of
   one file differ in names and order only. When a layout file is given (layouts/<model>.json:
   the reference conversion's node names, ops, inputs and outputs, its initializer names and a
   digest of each initializer's values), nodes are matched to the reference by what they
   compute (op and inputs, recursively, constants by digest) and take its names and order, so
   the result is byte for byte the reference file that the manifest's sha256 pins. Op types
   and weights never come from the layout: a graph that computes anything else fails here,
   and any other difference fails the installer's sha256 check.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

CUSTOM_TRANSPOSE_CONV = "TFL_Convolution2DTransposeBias"

# tf2onnx's optimiser sometimes settles on another, equivalent placement of a Reshape or
# Transpose (measured on the landscape selfie model: one run in two to four). Such a run cannot
# give the reference bytes, so the conversion is run again, at most this many times.
ATTEMPTS = 24


class LayoutMismatch(Exception):
    """The converted graph is not the reference's, up to names and order."""


def tf2onnx(tflite_path, scratch, name):
    """Runs the tf2onnx command line exactly as the reference conversion did: on a file called
    `name` in the working directory, because tf2onnx writes the path it was given into the
    graph's doc string ("converted from face_landmark.tflite")."""
    shutil.copyfile(tflite_path, os.path.join(scratch, name))
    command = [sys.executable, "-m", "tf2onnx.convert", "--tflite", name, "--output", "raw.onnx", "--opset", "17"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=scratch)
    if done.returncode != 0:
        sys.exit(f"tf2onnx failed ({done.returncode}): {done.stderr[-2000:]}")
    return os.path.join(scratch, "raw.onnx")


def replace_transpose_conv(model):
    """Swaps the MediaPipe transpose-convolution node for ONNX ConvTranspose.

    The op's TFLite options are SAME padding with stride 2 both ways; its kernel is laid out
    [C_out, kH, kW, C_in] and its input is NHWC. With a 2x2 kernel and stride 2, SAME means no
    padding and an output twice the input size.
    """
    graph = model.graph
    nodes = list(graph.node)
    custom = [n for n in nodes if n.op_type == CUSTOM_TRANSPOSE_CONV]
    if not custom:
        return
    if len(custom) != 1:
        sys.exit(f"expected one {CUSTOM_TRANSPOSE_CONV} node, found {len(custom)}")
    node = custom[0]
    weights = {init.name: init for init in graph.initializer}
    data_nhwc, kernel_name, bias_name = node.input
    kernel = numpy_helper.to_array(weights[kernel_name])
    bias = numpy_helper.to_array(weights[bias_name])
    if kernel.shape[1:3] != (2, 2):
        sys.exit(f"{node.name}: kernel {kernel.shape} is not 2x2; the stride-2 SAME rewrite does not apply")
    kernel_onnx = np.ascontiguousarray(kernel.transpose(3, 0, 1, 2)).astype(np.float32)

    # tf2onnx feeds the node through a Transpose from NCHW; ConvTranspose reads NCHW itself.
    producer = next((n for n in nodes if data_nhwc in n.output), None)
    readers = [n for n in nodes if data_nhwc in n.input]
    replacement = []
    if producer is not None and producer.op_type == "Transpose" and len(readers) == 1 \
            and list(producer.attribute[0].ints) == [0, 2, 3, 1]:
        data_nchw = producer.input[0]
        nodes.remove(producer)
    else:
        data_nchw = data_nhwc + "_nchw"
        replacement.append(helper.make_node("Transpose", [data_nhwc], [data_nchw], name=node.name + "_to_nchw",
                                            perm=[0, 3, 1, 2]))
    kernel_out, bias_out = node.name + "_W", node.name + "_B"
    graph.initializer.extend([numpy_helper.from_array(kernel_onnx, kernel_out),
                              numpy_helper.from_array(bias.astype(np.float32), bias_out)])
    result_nchw = node.output[0] + "_nchw"
    replacement.append(helper.make_node("ConvTranspose", [data_nchw, kernel_out, bias_out], [result_nchw],
                                        name=node.name + "_convtranspose", kernel_shape=[2, 2], strides=[2, 2],
                                        pads=[0, 0, 0, 0]))
    replacement.append(helper.make_node("Transpose", [result_nchw], [node.output[0]], name=node.name + "_to_nhwc",
                                        perm=[0, 2, 3, 1]))
    at = nodes.index(node)
    nodes[at:at + 1] = replacement
    del graph.node[:]
    graph.node.extend(nodes)

    used = {name for n in graph.node for name in n.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    domains = {n.domain for n in graph.node}
    opsets = [o for o in model.opset_import if o.domain == "" or o.domain in domains]
    del model.opset_import[:]
    model.opset_import.extend(opsets)


def initializer_digest(init):
    """What identifies a constant whatever its name: dtype, shape and values."""
    array = numpy_helper.to_array(init)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def cone_signatures(nodes, constants):
    """For each node, a digest of everything it computes from: its op, and for each input the
    signature of the producing node (with the output index), the constant's digest, or the
    graph input's name. Equal digests mean equal subgraphs, whatever the names."""
    producer = {out: index for index, node in enumerate(nodes) for out in node["outputs"]}
    memo = {}

    def tensor(name):
        if name in producer:
            index = producer[name]
            return f"{node_signature(index)}#{nodes[index]['outputs'].index(name)}"
        if name in constants:
            return "const:" + constants[name]
        return "input:" + name

    def node_signature(index):
        if index not in memo:
            node = nodes[index]
            text = node["op"] + "(" + ",".join(tensor(name) for name in node["inputs"]) + ")"
            memo[index] = hashlib.sha256(text.encode()).hexdigest()[:24]
        return memo[index]

    return [node_signature(index) for index in range(len(nodes))]


def apply_layout(model, layout):
    """Gives the graph the reference's names and order, matching nodes by what they compute
    (tf2onnx's node order can differ from run to run, its generated names always do)."""
    graph = model.graph
    ours = [{"op": n.op_type, "inputs": list(n.input), "outputs": list(n.output)} for n in graph.node]
    our_constants = {init.name: initializer_digest(init) for init in graph.initializer}
    their_constants = dict(layout["initializers"])
    if sorted(our_constants.values()) != sorted(their_constants.values()):
        raise LayoutMismatch("the constants differ from the reference's")
    our_signatures = cone_signatures(ours, our_constants)
    their_signatures = cone_signatures(layout["nodes"], their_constants)
    if sorted(our_signatures) != sorted(their_signatures):
        raise LayoutMismatch("the graph differs from the reference's")
    # Identical subgraphs are interchangeable; take them in order of appearance.
    queues = {}
    for index, signature in enumerate(our_signatures):
        queues.setdefault(signature, []).append(index)
    names = {}
    ordered = []
    for ref, signature in zip(layout["nodes"], their_signatures):
        node = graph.node[queues[signature].pop(0)]
        for our_name, their_name in zip(list(node.input) + list(node.output), ref["inputs"] + ref["outputs"]):
            if names.setdefault(our_name, their_name) != their_name:
                raise LayoutMismatch(f"node {ref['name']}: tensor {our_name} maps to both {names[our_name]} and {their_name}")
        node.name = ref["name"]
        ordered.append(node)
    for node in ordered:
        node.input[:] = [names.get(name, name) for name in node.input]
        node.output[:] = [names.get(name, name) for name in node.output]
    kept = [onnx.NodeProto.FromString(node.SerializeToString()) for node in ordered]
    del graph.node[:]
    graph.node.extend(kept)
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        value.name = names.get(value.name, value.name)
    by_name = {}
    for init in graph.initializer:
        init.name = names.get(init.name, init.name)
        by_name[init.name] = onnx.TensorProto.FromString(init.SerializeToString())
    if sorted(by_name) != sorted(their_constants):
        raise LayoutMismatch("the constants' names differ from the reference's")
    del graph.initializer[:]
    graph.initializer.extend(by_name[name] for name, _ in layout["initializers"])


def convert_once(tflite, name, layout):
    with tempfile.TemporaryDirectory() as scratch:
        model = onnx.load(tf2onnx(tflite, scratch, name))
    replace_transpose_conv(model)
    if layout is not None:
        apply_layout(model, layout)
    return model


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out, tflite = sys.argv[1], sys.argv[2]
    layout = None
    if len(sys.argv) == 4:
        with open(sys.argv[3], encoding="utf-8") as file:
            layout = json.load(file)
    # The reference converted <model>.tflite for <model>.onnx.
    name = os.path.basename(out).split(".")[0] + ".tflite"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            model = convert_once(tflite, name, layout)
            break
        except LayoutMismatch as mismatch:
            print(f"attempt {attempt}: {mismatch}; converting again", file=sys.stderr)
    else:
        sys.exit(f"{ATTEMPTS} conversions of {tflite} all differ from the reference graph")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
