"""A tiny stand-in detector for tests and benches: a real ONNX graph, no weights, instant to run.

``write_fixed_output_model(path, rows, names)`` writes an end-to-end (YOLO26-style) model whose output
``[B, 300, 6]`` is always ``rows`` (x1, y1, x2, y2, score, class in the letterboxed input's pixels), with a
dynamic batch (and, with ``dynamic_size``, any height and width, like Frontage's own exports). It needs the ``onnx`` package (train extra); the runtime path never imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_fixed_output_model(
    path: str | Path, rows: Sequence[Sequence[float]], names: Sequence[str], imgsz: int = 640,
    dynamic_size: bool = False,
) -> Path:
    import onnx
    from onnx import TensorProto, helper

    table = np.zeros((1, 300, 6), np.float32)
    for i, row in enumerate(rows):
        table[0, i] = row
    # output = rows + 0 * mean(images): the graph consumes its input, like a real model, and follows its batch
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Reshape", ["z", "shape"], ["z3"]),
        helper.make_node("Add", ["rows", "z3"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fixed_output",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       ["batch", 3, "height", "width"] if dynamic_size else ["batch", 3, imgsz, imgsz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 300, 6])],
        initializer=[
            helper.make_tensor("rows", TensorProto.FLOAT, table.shape, table.ravel()),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 1, 1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"names": repr(dict(enumerate(names))), "end2end": "True", "version": "test-1", "imgsz": f"[{imgsz}, {imgsz}]"}
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    path = Path(path)
    onnx.save(model, str(path))
    return path
