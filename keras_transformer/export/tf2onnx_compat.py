"""tf2onnx with NumPy 2: the one place the package calls and patches it.

tf2onnx 1.17 still calls `np.product`, an alias that NumPy 2.0 removed
(`np.prod` is the name). It does so in `tf2onnx.graph.Node.get_value_attr`,
which runs for every constant when a model is converted with
`large_model=True` (ONNX external data: the path for models whose weights do
not fit a 2 GiB protobuf), and in `tf2onnx.tfjs_utils`. Unpatched, such a
conversion dies with `AttributeError: module 'numpy' has no attribute
'product'`. (The `np.cast` and `np.object` uses that Keras's own patch,
`keras/src/export/tf2onnx_lib.py`, works around were gone by tf2onnx 1.17.)

The fix gives those tf2onnx modules, and only them, a view of NumPy that
still has the removed aliases. NumPy itself is left untouched, so no other
library starts to depend on names NumPy dropped.

tf2onnx 1.17 also has no handler for TensorFlow's `Erfc`, which the exact
GELU of BERT models (`keras.activations.gelu(approximate=False)`, computed
by TensorFlow as `0.5 * x * erfc(-x / sqrt(2))`) puts in every
feed-forward layer. Every conversion therefore maps it to ONNX ops:
`erfc(x) = 1 - erf(x)` (ONNX has `Erf` from opset 9). The two differ by
float32 rounding only (at most ~1e-7 absolutely, where erfc is near 0 and
the GELU output is ~0 anyway).
"""

import importlib
import types

import numpy as np

# NumPy 1.x aliases removed in NumPy 2.0 (NEP 52), with their replacements.
_REMOVED_ALIASES = {
    "product": np.prod,
    "cumproduct": np.cumprod,
    "sometrue": np.any,
    "alltrue": np.all,
}
# The tf2onnx modules that call a removed alias (tf2onnx 1.17).
_PATCHED_MODULES = ("tf2onnx.graph", "tf2onnx.tfjs_utils")


class _NumpyWithRemovedAliases(types.ModuleType):
    """NumPy, plus the aliases that NumPy 2 removed; everything else is
    looked up in NumPy at call time."""

    def __init__(self):
        super().__init__("numpy", "NumPy with its removed 1.x aliases")
        for name, function in _REMOVED_ALIASES.items():
            if not hasattr(np, name):
                setattr(self, name, function)

    def __getattr__(self, name):
        return getattr(np, name)


_NUMPY_VIEW = _NumpyWithRemovedAliases()


def patch_tf2onnx():
    """Makes tf2onnx 1.17 work with NumPy 2; idempotent and cheap.

    Checks the modules every time rather than once per process, so that it
    also repairs a module whose `np` something else reset.

    Returns:
        The `tf2onnx` module.
    """
    import tf2onnx

    for module_name in _PATCHED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # tfjs_utils needs optional packages.
            continue
        if getattr(module, "np", None) is np:
            module.np = _NUMPY_VIEW
    return tf2onnx


def convert_function(function, input_signature, opset, large_model=False):
    """Converts a `tf.function` to an ONNX `ModelProto` with tf2onnx.

    Every conversion in the package goes through here, so the NumPy 2 patch
    is always applied first.

    Args:
        function: A `tf.function`.
        input_signature: A list of named `tf.TensorSpec`s; their names
            become the ONNX input names.
        opset: The ONNX opset (tf2onnx 1.17 supports up to 18).
        large_model: Keep tensors out of the protobuf (ONNX external data),
            needed past 2 GiB of weights.

    Returns:
        `(model_proto, external_tensor_storage)`; the storage is `None`
        unless `large_model`.
    """
    tf2onnx = patch_tf2onnx()
    return tf2onnx.convert.from_function(
        function,
        input_signature,
        opset=opset,
        large_model=large_model,
        custom_op_handlers={"Erfc": (_convert_erfc, [])},
    )


def _convert_erfc(graph, node, name, args):
    """tf2onnx handler: TensorFlow `Erfc(x)` -> ONNX `Sub(1, Erf(x))`."""
    from tf2onnx import utils

    x = node.input[0]
    dtype = utils.map_onnx_to_numpy_type(graph.get_dtype(x))
    one = graph.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype))
    erf = graph.make_node("Erf", [x], op_name_scope=name)
    graph.replace_inputs(node, [one.output[0], erf.output[0]])
    node.type = "Sub"
