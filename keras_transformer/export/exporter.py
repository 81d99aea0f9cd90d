"""From a trained model and its tokenizer to verified serving artifacts."""

import datetime

from keras_transformer.data import SubwordTokenizer
from keras_transformer.export import export_steps
from keras_transformer.export import layout
from keras_transformer.export import signatures
from keras_transformer.export.decoding_config import DecodingConfig
from keras_transformer.export.onnx_export import DEFAULT_OPSET
from keras_transformer.export.onnx_export import export_onnx
from keras_transformer.export.precision import as_float32
from keras_transformer.export.translation_serving_module import (
    TranslationServingModule,
)
from keras_transformer.export.verification import LOGITS_ATOL
from keras_transformer.export.verification import verify_onnx
from keras_transformer.export.verification import verify_saved_model
from keras_transformer.export.versions import package_versions
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
    formats, final_path = export_steps.check_export_arguments(
        output_dir, name, version, formats, opset, overwrite
    )
    model, tokenizer = _load(model, tokenizer)
    trained_policy = model.dtype_policy.name
    model = as_float32(model)
    decoding = DecodingConfig.for_model(
        model, tokenizer, max_output_length, beam_width=beam_width, alpha=alpha
    )

    def write_onnx(directory):
        paths = export_onnx(model, directory, opset=opset, large_model=large_model)
        return paths, verify_onnx(directory, model, tokenizer, decoding)

    return export_steps.write_verified_export(
        final_path, tokenizer, formats, opset,
        write_saved_model=lambda path: _export_saved_model(
            model, tokenizer, decoding, path, text_signatures
        ),
        write_onnx=write_onnx,
        make_manifest=lambda onnx_info, records: _manifest(
            name, version, formats, model, trained_policy, tokenizer, decoding,
            onnx_info, records, text_signatures,
        ),
    )


def _export_saved_model(model, tokenizer, decoding, path, text_signatures):
    module = TranslationServingModule(
        model,
        tokenizer,
        decoding.max_output_length,
        beam_width=decoding.beam_width,
        alpha=decoding.alpha,
        text_signatures=text_signatures,
    )
    return export_steps.save_and_verify_saved_model(
        module, path, lambda loaded: verify_saved_model(loaded, model, tokenizer, decoding)
    )


def _load(model, tokenizer):
    model = export_steps.load_keras_model(
        model, "a Seq2SeqTransformer or the path of a .keras file"
    )
    if not isinstance(model, Seq2SeqTransformer):
        raise checks.invalid_argument(
            "model", "a Seq2SeqTransformer", type(model).__name__
        )
    tokenizer = export_steps.load_tokenizer(tokenizer, SubwordTokenizer)
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


def _manifest(name, version, formats, model, trained_policy, tokenizer, decoding,
              onnx_info, records, text_signatures):
    specs = signatures.signature_specs(
        model.decoder_vocabulary_size, decoding.max_output_length, bool(text_signatures)
    )
    return {
        "format_version": layout.MANIFEST_FORMAT_VERSION,
        "kind": layout.KIND_TRANSLATION,
        "name": name,
        "version": version,
        "formats": formats,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "model": export_steps.model_manifest(model, trained_policy),
        "tokenizer": {
            "path": export_steps.TOKENIZER_PATH,
            "vocabulary_size": tokenizer.vocabulary_size,
        },
        "decoding": decoding.to_json(),
        "text_signatures": bool(text_signatures),
        "signatures": {
            signature: export_steps.spec_manifest(spec)
            for signature, spec in specs.items()
        },
        "onnx": onnx_info,
        "verification": {
            "logits_atol": LOGITS_ATOL,
            "tokens": "identical",
            "checks": records,
        },
        "versions": package_versions(),
    }
