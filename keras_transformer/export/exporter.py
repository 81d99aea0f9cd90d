"""From a trained model and its tokenizer to verified serving artifacts."""

import dataclasses
import datetime
import importlib.metadata
import os
import pathlib
import shutil

import keras
import tensorflow as tf

from keras_transformer.data import SubwordTokenizer
from keras_transformer.export import layout
from keras_transformer.export import signatures
from keras_transformer.export.decoding_config import DecodingConfig
from keras_transformer.export.onnx_export import DEFAULT_OPSET
from keras_transformer.export.onnx_export import check_opset
from keras_transformer.export.onnx_export import export_onnx
from keras_transformer.export.precision import as_float32
from keras_transformer.export.translation_serving_module import (
    TranslationServingModule,
)
from keras_transformer.export.verification import LOGITS_ATOL
from keras_transformer.export.verification import verify_onnx
from keras_transformer.export.verification import verify_saved_model
from keras_transformer.layers import checks
from keras_transformer.models import Seq2SeqTransformer


def export_translation(
    model,
    tokenizer,
    output_dir,
    name="translator",
    version=1,
    formats=layout.FORMATS,
    opset=DEFAULT_OPSET,
    max_output_length=None,
    beam_width=4,
    alpha=0.6,
    overwrite=False,
    large_model=None,
    text_signatures=True,
):
    """Exports a translation model for serving, verified.

    Writes `output_dir/name/version/` in TF Serving's layout (see
    `keras_transformer.export.layout`): the SavedModel (text-in, text-out
    and id signatures, see `keras_transformer.export.signatures`), the ONNX
    graphs, the tokenizer and a manifest. Each artifact is loaded back and
    compared with the Keras model (`keras_transformer.export.verification`)
    before the version folder appears under its final name; a failed check
    raises `VerificationError` and leaves nothing behind.

    A mixed-precision model is exported in float32 (its float32 weights in
    a float32 copy of the model).

    Args:
        model: A `Seq2SeqTransformer`, or the path of one saved as `.keras`.
        tokenizer: Its `SubwordTokenizer`, or the folder it was saved to.
        output_dir: The export root: TF Serving's model base path is
            `output_dir/name`.
        name: The model name (letters, digits, '-', '_', '.').
        version: A positive integer version.
        formats: Any of "savedmodel" and "onnx" (a list, or a comma-separated
            string).
        opset: ONNX opset, 17 or 18.
        max_output_length: L, the most ids generated per sentence; defaults
            to the model's `max_sequence_length - 1`.
        beam_width: K of the beam-search signatures.
        alpha: Their length-penalty exponent.
        overwrite: Replace an existing version folder.
        large_model: ONNX external data for the weights; `None` decides by
            size.
        text_signatures: Give the SavedModel its text-in, text-out
            signatures. They need TensorFlow Text's ops wherever the
            SavedModel is loaded; without them (`False`) any TensorFlow or
            TF Serving binary loads it, and `serving_default` is `generate`.

    Returns:
        The manifest (a dict, also written to
        `assets.extra/export.json`), with the version folder under "path".
    """
    formats = _parse_formats(formats)
    check_opset(opset)
    final_path = layout.version_dir(output_dir, name, version)
    if final_path.exists() and not overwrite:
        raise ValueError(
            f"The version folder {final_path} exists already. Export to a new "
            "`version` (TF Serving serves the highest), or pass "
            "overwrite=True to replace it."
        )
    model, tokenizer = _load(model, tokenizer)
    trained_policy = model.dtype_policy.name
    model = as_float32(model)
    decoding = DecodingConfig.for_model(
        model, tokenizer, max_output_length, beam_width=beam_width, alpha=alpha
    )

    # A name TF Serving ignores (not a number) until every check passed.
    staging = final_path.parent / f".{final_path.name}.incomplete-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        tokenizer.save(layout.tokenizer_dir(staging))
        records, onnx_info = [], None
        if "savedmodel" in formats:
            records += _export_saved_model(
                model, tokenizer, decoding, staging, text_signatures
            )
        if "onnx" in formats:
            paths = export_onnx(
                model, layout.onnx_dir(staging), opset=opset, large_model=large_model
            )
            records += verify_onnx(layout.onnx_dir(staging), model, tokenizer, decoding)
            onnx_info = {
                "opset": opset,
                "files": {
                    part: str(path.relative_to(staging)) for part, path in paths.items()
                },
            }
        manifest = _manifest(
            name, version, formats, model, trained_policy, tokenizer, decoding,
            onnx_info, records, text_signatures,
        )
        layout.write_manifest(staging, manifest)
        if final_path.exists():
            shutil.rmtree(final_path)
        os.replace(staging, final_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**manifest, "path": str(final_path)}


def _export_saved_model(model, tokenizer, decoding, path, text_signatures):
    module = TranslationServingModule(
        model,
        tokenizer,
        decoding.max_output_length,
        beam_width=decoding.beam_width,
        alpha=decoding.alpha,
        text_signatures=text_signatures,
    )
    tf.saved_model.save(module, str(path), signatures=module.signature_functions())
    loaded = tf.saved_model.load(str(path))
    return verify_saved_model(loaded, model, tokenizer, decoding)


def _load(model, tokenizer):
    if isinstance(model, (str, os.PathLike)):
        path = pathlib.Path(model)
        if path.suffix != ".keras" or not path.is_file():
            raise checks.invalid_argument(
                "model", "a Seq2SeqTransformer or the path of a .keras file", str(model)
            )
        model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, Seq2SeqTransformer):
        raise checks.invalid_argument(
            "model", "a Seq2SeqTransformer", type(model).__name__
        )
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = SubwordTokenizer.load(tokenizer)
    if not isinstance(tokenizer, SubwordTokenizer):
        raise checks.invalid_argument(
            "tokenizer", "a SubwordTokenizer or the folder it was saved to",
            type(tokenizer).__name__,
        )
    if tokenizer.vocabulary_size > min(
        model.encoder_vocabulary_size, model.decoder_vocabulary_size
    ):
        raise ValueError(
            "The tokenizer does not match the model: its vocabulary has "
            f"{tokenizer.vocabulary_size} ids, the model's embeddings have "
            f"encoder_vocabulary_size={model.encoder_vocabulary_size} and "
            f"decoder_vocabulary_size={model.decoder_vocabulary_size}."
        )
    return model, tokenizer


def _parse_formats(formats):
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    formats = list(formats)
    if not formats or len(set(formats)) != len(formats) or any(
        f not in layout.FORMATS for f in formats
    ):
        raise checks.invalid_argument(
            "formats", f"a non-empty list of distinct values from {list(layout.FORMATS)}",
            formats,
        )
    return formats


def _manifest(name, version, formats, model, trained_policy, tokenizer, decoding,
              onnx_info, records, text_signatures):
    specs = signatures.signature_specs(
        model.decoder_vocabulary_size, decoding.max_output_length, bool(text_signatures)
    )
    return {
        "format_version": layout.MANIFEST_FORMAT_VERSION,
        "name": name,
        "version": version,
        "formats": formats,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "model": {
            "class": type(model).__name__,
            "config": model.get_config(),
            "parameters": model.count_params(),
            "trained_dtype_policy": trained_policy,
            "exported_dtype": "float32",
        },
        "tokenizer": {
            "path": str(pathlib.Path(layout.ASSETS_EXTRA) / layout.TOKENIZER_DIRNAME),
            "vocabulary_size": tokenizer.vocabulary_size,
        },
        "decoding": decoding.to_json(),
        "text_signatures": bool(text_signatures),
        "signatures": {
            signature: {
                side: {
                    tensor: dataclasses.asdict(info) for tensor, info in spec[side].items()
                }
                for side in ("inputs", "outputs")
            }
            for signature, spec in specs.items()
        },
        "onnx": onnx_info,
        "verification": {
            "logits_atol": LOGITS_ATOL,
            "tokens": "identical",
            "checks": records,
        },
        "versions": {
            package: _version_of(package)
            for package in ("keras-tf-transformer", "tensorflow", "keras",
                            "tensorflow-text", "tf2onnx", "onnx", "onnxruntime",
                            "numpy")
        },
    }


def _version_of(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
