# SPDX-License-Identifier: MPL-2.0
"""Writes the layout file of a reference ONNX conversion (for tflite_to_onnx.py).

Usage: python3 make_layout.py REFERENCE.onnx LAYOUT.json

The layout holds names, op types and digests: each node's name, op, inputs and outputs in
order, and the initializers in file order as (name, digest of dtype, shape and values).
Weights are never copied into it.
"""

import json
import sys

import onnx

from tflite_to_onnx import initializer_digest


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model = onnx.load(sys.argv[1])
    layout = {
        "nodes": [
            {"name": n.name, "op": n.op_type, "inputs": list(n.input), "outputs": list(n.output)}
            for n in model.graph.node
        ],
        "initializers": [[init.name, initializer_digest(init)] for init in model.graph.initializer],
    }
    with open(sys.argv[2], "w", encoding="utf-8") as file:
        json.dump(layout, file, indent=0, separators=(",", ":"))
        file.write("\n")


if __name__ == "__main__":
    main()
