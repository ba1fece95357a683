"""The zoo's kinds read from a config alone: the forms each family writes (Keras 3 one-input Functional models, ops in
a graph, Keras 2's registered names, a training config)."""

from __future__ import annotations

from typing import Any

from harness.decl import zoo_match


def layer(name: str, **cfg: Any) -> dict[str, Any]:
    return {"class_name": name, "config": {"name": name.lower(), "trainable": True, **cfg}, "inbound_nodes": []}


def functional(*layers: dict[str, Any], inputs: Any, outputs: Any) -> dict[str, Any]:
    return {"class_name": "Functional", "config": {"layers": list(layers), "input_layers": inputs,
                                                   "output_layers": outputs}}  # fmt: skip


def test_one_input_and_one_output_as_keras_3_writes_them_is_not_multi_io() -> None:
    keras3 = functional(layer("MultiHeadAttention"), inputs=["input_layer", 0, 0], outputs=["dense_2", 0, 0])
    keras2 = functional(layer("MultiHeadAttention"), inputs=[["input_1", 0, 0]], outputs=[["dense_2", 0, 0]])
    two = functional(layer("GRU"), inputs=[["steps", 0, 0], ["static", 0, 0]], outputs=[["score", 0, 0]])
    assert zoo_match.kinds(keras3) == zoo_match.kinds(keras2) == ["transformer"]
    assert zoo_match.kinds(two) == ["multi-io"]
    assert zoo_match.tensors({"a": ["a", 0, 0], "b": ["b", 0, 0]}) == 2


def test_ops_in_a_graph_read_as_backend_ops_in_every_form_written() -> None:
    keras2 = functional(layer("Dense"), layer("TFOpLambda"), inputs=[["i", 0, 0]], outputs=[["d", 0, 0]])
    op_keras = {"class_name": "Tanh", "module": "keras.src.ops.numpy", "registered_name": "Tanh",
                "config": {"name": "tanh"}, "inbound_nodes": []}  # fmt: skip
    op_h5 = {"class_name": "Tanh", "config": {"name": "tanh"}, "inbound_nodes": []}
    merge = layer("Add")  # a merge layer of the same name as an op has a layer's config
    for graph in (keras2, functional(layer("Dense"), op_keras, inputs=["i", 0, 0], outputs=["d", 0, 0]),
                  functional(layer("Dense"), op_h5, inputs=["i", 0, 0], outputs=["d", 0, 0])):  # fmt: skip
        assert zoo_match.kinds(graph) == ["backend-ops"], graph
    assert zoo_match.kinds(functional(layer("Dense"), merge, inputs=["i", 0, 0], outputs=["d", 0, 0])) == []
    assert zoo_match.kinds(functional(layer("InputLayer"), inputs=["i", 0, 0], outputs=["d", 0, 0])) == []


def test_classes_of_the_user_s_own_and_a_training_config() -> None:
    keras2 = {"class_name": "Sequential", "config": {"layers": [layer("maskcompat_zoo>ScaledDense")]}}
    keras3 = {"class_name": "Sequential", "config": {"layers": [
        {**layer("ScaledDense"), "module": None, "registered_name": "maskcompat_zoo>ScaledDense"}]}}  # fmt: skip
    own_keras = {"class_name": "Sequential", "config": {"layers": [
        {**layer("Dense"), "module": "keras.layers", "registered_name": None}]}}  # fmt: skip
    assert zoo_match.kinds(keras2) == zoo_match.kinds(keras3) == ["custom-layer"]
    assert zoo_match.kinds(own_keras) == []
    assert zoo_match.kinds({**own_keras, "compile_config": {"loss": "mse"}}) == ["compiled"]
    assert zoo_match.kinds({**own_keras, "compile_config": {}}) == []  # Keras 3 writes an empty one when not compiled
    assert zoo_match.kinds(own_keras, compiled=True) == ["compiled"]  # an HDF5 file's training config
    assert zoo_match.kinds(None) == [] and zoo_match.kinds({"class_name": "TwoTower"}) == ["subclassed-model"]
