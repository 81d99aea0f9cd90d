"""TensorFlow's `saved_model_cli`, with the TensorFlow Text ops registered.

The text signatures (`translate`, `translate_greedy`, `serving_default`)
tokenize with SentencePiece ops from tensorflow-text. The plain
`saved_model_cli` binary does not load them, so while `show --all` works,
`run` stops at "Op type not registered 'SentencepieceOp'" for every
signature (it imports the whole graph). TF Serving's model server links
these ops in; this is the same tool after `import tensorflow_text`:

    python -m keras_transformer.export.saved_model_cli run \\
        --dir exports/en_es/1 --tag_set serve --signature_def translate \\
        --input_exprs 'text=["In the beginning God created the heaven."]'
"""

import sys

import tensorflow_text  # noqa: F401  (registers the ops)
from tensorflow.python.tools import saved_model_cli


def main():
    return saved_model_cli.main()


if __name__ == "__main__":
    sys.exit(main())
