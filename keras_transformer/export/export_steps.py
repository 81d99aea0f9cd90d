"""The steps every exporter takes (`export_translation`,
`export_encoder_model`): checking its arguments, loading the model and the
tokenizer, writing and verifying the artifacts in a staged version folder,
and the parts of the manifest they share."""

import dataclasses
import os
import pathlib

import keras
import tensorflow as tf

from keras_transformer.export import layout
from keras_transformer.export.onnx_export import check_opset
from keras_transformer.layers import checks

# Where the tokenizer lies in a version folder, as the manifest records it.
TOKENIZER_PATH = str(pathlib.Path(layout.ASSETS_EXTRA) / layout.TOKENIZER_DIRNAME)


def check_export_arguments(output_dir, name, version, formats, opset, overwrite):
    """Checks what every export takes, before any work is done.

    Returns:
        `(formats, final_path)`: the list of formats and the version folder.
    """
    formats = layout.parse_formats(formats)
    check_opset(opset)
    final_path = layout.version_dir(output_dir, name, version)
    layout.check_new_version(final_path, overwrite)
    return formats, final_path


def load_keras_model(model, expected):
    """`model`, or the model saved at that `.keras` path.

    Args:
        model: A Keras model or the path of a `.keras` file.
        expected: What `model` must be, for the error on another path.
    """
    if isinstance(model, (str, os.PathLike)):
        path = pathlib.Path(model)
        if path.suffix != ".keras" or not path.is_file():
            raise checks.invalid_argument("model", expected, str(model))
        model = keras.saving.load_model(path, compile=False)
    return model


def load_tokenizer(tokenizer, tokenizer_class):
    """`tokenizer`, or the `tokenizer_class` saved in that folder; raises
    for anything else."""
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = tokenizer_class.load(tokenizer)
    if not isinstance(tokenizer, tokenizer_class):
        raise checks.invalid_argument(
            "tokenizer", f"a {tokenizer_class.__name__} or the folder it was saved to",
            type(tokenizer).__name__,
        )
    return tokenizer


def save_and_verify_saved_model(module, path, verify):
    """Saves a serving `tf.Module` with its `signature_functions()` to
    `path`, loads it back and returns `verify(loaded)`'s records."""
    tf.saved_model.save(module, str(path), signatures=module.signature_functions())
    loaded = tf.saved_model.load(str(path))
    return verify(loaded)


def write_verified_export(final_path, tokenizer, formats, opset, write_saved_model,
                          write_onnx, make_manifest):
    """Writes the artifacts of one export, verified, to `final_path`.

    Everything is written to a folder that TF Serving ignores
    (`layout.staged_version_dir`) and renamed to `final_path` only once
    every artifact was verified; a failed check leaves nothing behind.

    Args:
        final_path: The version folder.
        tokenizer: Saved to `layout.tokenizer_dir`.
        formats: The formats to write (from `layout.parse_formats`).
        opset: The ONNX opset, for the manifest.
        write_saved_model: `(version folder) -> records`: writes the
            SavedModel there and verifies it.
        write_onnx: `(ONNX folder) -> ({part: path}, records)`: writes the
            ONNX graphs there and verifies them.
        make_manifest: `(onnx_info, records) -> manifest`; `onnx_info` is
            `None` without ONNX, else the opset and the graphs' paths
            relative to the version folder.

    Returns:
        The manifest (also written to `assets.extra/export.json`), with the
        version folder under "path".
    """
    with layout.staged_version_dir(final_path) as staging:
        tokenizer.save(layout.tokenizer_dir(staging))
        records, onnx_info = [], None
        if "savedmodel" in formats:
            records += write_saved_model(staging)
        if "onnx" in formats:
            paths, onnx_records = write_onnx(layout.onnx_dir(staging))
            records += onnx_records
            onnx_info = {
                "opset": opset,
                "files": {
                    part: str(path.relative_to(staging)) for part, path in paths.items()
                },
            }
        manifest = make_manifest(onnx_info, records)
        layout.write_manifest(staging, manifest)
    return {**manifest, "path": str(final_path)}


def model_manifest(model, trained_policy):
    """The manifest's "model" entries every export has."""
    return {
        "class": type(model).__name__,
        "config": model.get_config(),
        "parameters": model.count_params(),
        "trained_dtype_policy": trained_policy,
        "exported_dtype": "float32",
    }


def spec_manifest(spec):
    """A signature's spec ({"inputs", "outputs"} of `TensorInfo`) as JSON."""
    return {
        side: {tensor: dataclasses.asdict(info) for tensor, info in spec[side].items()}
        for side in ("inputs", "outputs")
    }
