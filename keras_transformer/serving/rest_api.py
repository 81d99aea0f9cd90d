"""TensorFlow Serving's REST API: routes, request and response JSON.

Pure functions (no sockets, no model), so every rule is tested directly.
The shapes follow https://www.tensorflow.org/tfx/serving/api_rest:

* `GET /v1/models/{name}[/versions/{v}]` -> model status;
* `GET /v1/models/{name}[/versions/{v}]/metadata` -> signature defs;
* `POST /v1/models/{name}[/versions/{v}]:predict` with
  `{"signature_name": ..., "instances": [...]}` (row format: one entry per
  example, a bare value when the signature has one input, else an object
  of named inputs) -> `{"predictions": [...]}`, or with
  `{"inputs": ...}` (columnar: a value, or an object of named inputs,
  each batched along its first axis) -> `{"outputs": ...}`, as TF Serving
  answers columnar requests. Strings may be sent as `{"b64": "..."}`.
"""

import base64
import dataclasses
import json
import re

import numpy as np

from keras_transformer.export import signatures
from keras_transformer.serving.errors import RequestError

_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<rest>/metadata|:[A-Za-z]+)?/?$"
)
_INT32 = np.iinfo(np.int32)


@dataclasses.dataclass(frozen=True)
class Route:
    """A parsed URL: `kind` is "status", "metadata" or "predict"."""

    kind: str
    model_name: str
    version: str = None
    label: str = None


@dataclasses.dataclass(frozen=True)
class PredictRequest:
    """A parsed predict body: inputs by name, each a list over the batch."""

    signature_name: str
    inputs: dict
    row_format: bool


def parse_route(method, path):
    """Maps a method and path to a `Route`; raises `RequestError`.

    Example:

    >>> parse_route("POST", "/v1/models/en_es/versions/2:predict")
    Route(kind='predict', model_name='en_es', version='2', label=None)
    """
    path = path.split("?", 1)[0]
    match = _ROUTE.match(path)
    if not match:
        raise RequestError(
            f"Malformed request: {method} {path[:200]}. Expected /v1/models/"
            "NAME[/versions/N][/metadata|:predict].", status=404,
        )
    rest = match["rest"] or ""
    if rest in ("", "/metadata"):
        kind, allowed = ("status" if not rest else "metadata"), "GET"
    elif rest == ":predict":
        kind, allowed = "predict", "POST"
    elif rest in (":classify", ":regress"):
        raise RequestError(
            f"{rest[1:]} is not supported: the model's signatures are predict "
            "signatures; use :predict.", status=400,
        )
    else:
        raise RequestError(f"Unknown method {rest!r}; use :predict.", status=404)
    if method != allowed:
        raise RequestError(
            f"{method} is not allowed on {path[:200]}; use {allowed}.", status=405
        )
    return Route(kind, match["name"], match["version"], match["label"])


def parse_predict_body(body):
    """Parses a predict request body (bytes) into a `PredictRequest`."""
    try:
        request = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f"Malformed JSON in the request body: {error}") from None
    except RecursionError:
        raise RequestError("The request body's JSON is nested too deeply.") from None
    if not isinstance(request, dict):
        raise RequestError(
            "The request body must be a JSON object with \"instances\" or "
            f"\"inputs\". Received a JSON {type(request).__name__}."
        )
    signature_name = request.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise RequestError(
            "\"signature_name\" must be a string. Received: "
            f"{json.dumps(signature_name)[:100]}"
        )
    # TF Serving reads a missing or empty name as the default signature.
    signature_name = signature_name or signatures.SERVING_DEFAULT
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise RequestError(
            "The request must have exactly one of \"instances\" (row format) "
            "and \"inputs\" (columnar format)."
            + (" It has both." if has_instances else " It has neither.")
        )
    if has_instances:
        return PredictRequest(signature_name, request["instances"], True)
    return PredictRequest(signature_name, request["inputs"], False)


def to_arrays(request, spec, max_batch_size):
    """Turns a request's JSON inputs into named NumPy arrays.

    Checks the structure against the signature `spec` (`{"inputs": {name:
    TensorInfo}}`): names, batch size (1..`max_batch_size`, the same for
    every input), element types and rectangular shapes. Strings become
    `str`; ids int32 arrays of shape (B, S).
    """
    input_names = sorted(spec["inputs"])
    columns = (_row_columns if request.row_format else _columnar_columns)(
        request.inputs, input_names
    )
    arrays, batch_sizes = {}, set()
    for name, column in columns.items():
        if not isinstance(column, list):
            raise RequestError(
                f"Input {name!r} must be a JSON list over the batch. Received a "
                f"JSON {_json_type(column)}."
            )
        if not column:
            raise RequestError(f"Input {name!r} is an empty batch: send at least one instance.")
        if len(column) > max_batch_size:
            raise RequestError(
                f"Input {name!r} has a batch of {len(column)} instances, more "
                f"than this server's max_batch_size={max_batch_size}. Split the request."
            )
        batch_sizes.add(len(column))
        info = spec["inputs"][name]
        if info.dtype == "string" and len(info.shape) == 2:
            arrays[name] = _word_lists(name, column)
        elif info.dtype == "string":
            arrays[name] = _strings(name, column)
        else:
            arrays[name] = _int_matrix(name, column)
    if len(batch_sizes) > 1:
        raise RequestError(
            f"Inputs have different batch sizes {sorted(batch_sizes)}; every "
            "input needs one entry per instance."
        )
    return arrays


def format_predict_response(outputs, row_format):
    """The JSON answer for `outputs` ({name: array}, first axis = batch)."""
    values = {name: _to_json(array) for name, array in outputs.items()}
    if row_format:
        if len(values) == 1:
            return {"predictions": next(iter(values.values()))}
        batch_size = len(next(iter(values.values())))
        return {
            "predictions": [
                {name: column[i] for name, column in values.items()}
                for i in range(batch_size)
            ]
        }
    if len(values) == 1:
        return {"outputs": next(iter(values.values()))}
    return {"outputs": values}


def status_response(version):
    """TF Serving's model status answer for one available version."""
    return {
        "model_version_status": [
            {
                "version": str(version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def metadata_response(name, version, signature_defs):
    """TF Serving's metadata answer; `signature_defs` as `signature_def`."""
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": signature_defs}},
    }


def signature_def(signature_name, spec):
    """One SignatureDef in TF Serving's JSON, from a `signature_specs` entry."""

    def tensor_info(prefix, name, info):
        return {
            "dtype": signatures.TF_DTYPE_NAMES[info.dtype],
            "tensor_shape": {
                "dim": [
                    {"size": str(-1 if size is None else size), "name": ""}
                    for size in info.shape
                ],
                "unknown_rank": False,
            },
            "name": f"{prefix}{name}:0",
        }

    return {
        "inputs": {
            name: tensor_info(f"{signature_name}_", name, info)
            for name, info in spec["inputs"].items()
        },
        "outputs": {
            name: tensor_info("", name, info) for name, info in spec["outputs"].items()
        },
        "method_name": "tensorflow/serving/predict",
        "defaults": {},
    }


def error_body(message):
    return {"error": message}


# === Helpers ===


def _row_columns(instances, input_names):
    if not isinstance(instances, list):
        raise RequestError(
            "\"instances\" must be a JSON list with one entry per example. "
            f"Received a JSON {_json_type(instances)}."
        )
    if not instances:
        raise RequestError("\"instances\" is an empty batch: send at least one instance.")
    named = [isinstance(instance, dict) and "b64" not in instance for instance in instances]
    if len(input_names) == 1 and not any(named):
        return {input_names[0]: instances}
    if not all(named):
        raise RequestError(
            "Each instance must be a JSON object with the inputs "
            f"{input_names} (or, for a one-input signature, a bare value), "
            "the same form for every instance."
        )
    columns = {name: [] for name in input_names}
    for index, instance in enumerate(instances):
        _check_names(instance, input_names, f"instances[{index}]")
        for name in input_names:
            columns[name].append(instance[name])
    return columns


def _columnar_columns(inputs, input_names):
    if isinstance(inputs, dict) and "b64" not in inputs:
        _check_names(inputs, input_names, "\"inputs\"")
        return dict(inputs)
    if len(input_names) != 1:
        raise RequestError(
            f"\"inputs\" must be a JSON object with the inputs {input_names}."
        )
    return {input_names[0]: inputs}


def _check_names(given, expected, where):
    missing = sorted(set(expected) - set(given))
    unknown = sorted(set(given) - set(expected))
    if missing or unknown:
        raise RequestError(
            f"{where} must have exactly the inputs {expected}."
            + (f" Missing: {missing}." if missing else "")
            + (f" Unknown: {unknown}." if unknown else "")
        )


def _strings(name, column):
    texts = []
    for index, value in enumerate(column):
        if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
            try:
                value = base64.b64decode(value["b64"], validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise RequestError(
                    f"{name}[{index}] is not base64 of UTF-8 text."
                ) from None
        if not isinstance(value, str):
            raise RequestError(
                f"{name}[{index}] must be a string (or {{\"b64\": ...}}). "
                f"Received a JSON {_json_type(value)}."
            )
        texts.append(value)
    return np.array(texts, dtype=object)


def _word_lists(name, column):
    """(B,) object array of word lists (ragged: one list of strings each)."""
    rows = np.empty(len(column), dtype=object)
    for index, row in enumerate(column):
        if not isinstance(row, list) or not row:
            raise RequestError(
                f"{name}[{index}] must be a non-empty list of word strings. "
                f"Received a JSON {_json_type(row)}."
            )
        rows[index] = list(_strings(f"{name}[{index}]", row))
    return rows


def _int_matrix(name, column):
    width = None
    for index, row in enumerate(column):
        if not isinstance(row, list):
            raise RequestError(
                f"{name}[{index}] must be a list of token ids. Received a JSON "
                f"{_json_type(row)}."
            )
        if width is None:
            width = len(row)
        if len(row) != width:
            raise RequestError(
                f"{name} must be rectangular (B, S): row {index} has {len(row)} "
                f"ids, row 0 has {width}. Pad with 0."
            )
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(
                    f"{name}[{index}] must hold integer token ids. Received "
                    f"{json.dumps(value)[:50]}."
                )
            if not _INT32.min <= value <= _INT32.max:
                raise RequestError(f"{name}[{index}] holds {value}, outside int32.")
    if not width:
        raise RequestError(f"{name} has rows of length 0: send at least one id per row.")
    return np.array(column, dtype=np.int32)


def _to_json(array):
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind in "SU":
        return _strings_to_json(array.tolist())
    return array.tolist()


def _strings_to_json(value):
    if isinstance(value, list):
        return [_strings_to_json(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value


def _json_type(value):
    return {
        dict: "object", list: "array", str: "string", bool: "boolean",
        int: "number", float: "number", type(None): "null",
    }.get(type(value), type(value).__name__)
