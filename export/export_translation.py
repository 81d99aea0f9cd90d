"""Export a model trained by `examples/train_translation.py` for serving.

Reads `model.keras` and `tokenizer/` from the training output folder and
writes a verified SavedModel and ONNX export in TF Serving's layout:

    python -m export.export_translation --training-dir artifacts/translation \\
        --output exports --name en_es --version 1

    exports/en_es/1/saved_model.pb ...       (TF Serving: --model_base_path=exports/en_es)
    exports/en_es/1/assets.extra/onnx/...    (keras-transformer serve --runtime onnx)

Nothing is written under its final name unless the exported SavedModel and
ONNX graphs reproduce the Keras model on fresh inputs (logits within 1e-4,
identical tokens and translations). Then serve it with
`keras-transformer serve --model-dir exports/en_es`.
"""

import argparse
import pathlib
import sys

from keras_transformer.cli import add_export_arguments
from keras_transformer.cli import export_keyword_arguments
from keras_transformer.export import export_translation


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--training-dir", default="artifacts/translation",
                        help="folder with model.keras and tokenizer/ (the training "
                             "script's --output-dir)")
    parser.add_argument("--model", default=None, help="override: the .keras file")
    parser.add_argument("--tokenizer", default=None, help="override: the tokenizer folder")
    parser.add_argument("--output", default="exports", help="export root")
    add_export_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    """Exports; returns the manifest (see `export_translation`)."""
    args = parse_args(argv)
    training_dir = pathlib.Path(args.training_dir)
    manifest = export_translation(
        args.model or training_dir / "model.keras",
        args.tokenizer or training_dir / "tokenizer",
        args.output,
        **export_keyword_arguments(args),
    )
    checks = manifest["verification"]["checks"]
    print(f"[export] {manifest['formats']} -> {manifest['path']}")
    print(f"[verify] {len(checks)} checks passed: logits within "
          f"{manifest['verification']['logits_atol']:g} of Keras, tokens and "
          "translations identical")
    print(f"[serve] keras-transformer serve --model-dir "
          f"{pathlib.Path(manifest['path']).parent} --runtime savedmodel|onnx")
    return manifest


if __name__ == "__main__":
    main(sys.argv[1:])
