"""The `keras-transformer` command: `train` and `translate`; `export` a
trained model, `serve` it.

    keras-transformer train                      # the main job, as `make demo`
    keras-transformer train --dataset my_corpus --source-language fr \\
        --output-dir artifacts/fr_en
    keras-transformer translate --model artifacts/translation "In the beginning"
    keras-transformer translate --model artifacts/translation < lines.txt
    keras-transformer export --model artifacts/translation/model.keras \\
        --tokenizer artifacts/translation/tokenizer --output exports \\
        --name en_es --version 1 --formats savedmodel,onnx
    keras-transformer export-encoder --model artifacts/ner/model.keras \\
        --tokenizer artifacts/ner/tokenizer --output exports --name ner \\
        --labels artifacts/ner/tags.json
    keras-transformer serve --model-dir exports/en_es --runtime onnx

(`train` runs `keras_transformer.jobs.train_translation`, the code that
`examples/train_translation.py` calls too; `keras-transformer train --help`
lists its options. `export-encoder` exports a fine-tuned BERT task model;
`serve` serves either kind of export.)

(`python -m keras_transformer.cli ...` where the console script is not
installed.) Wrong arguments exit with status 2 and a one-line message.
"""

import argparse
import importlib
import importlib.util
import ipaddress
import logging
import os
import sys

# `train --task`: the package module whose `main(argv)` trains each task.
TRAINING_JOBS = {
    "translation": "keras_transformer.jobs.train_translation",
    "ner": "keras_transformer.jobs.finetune_ner",
    "qa": "keras_transformer.jobs.finetune_qa",
    "classification": "keras_transformer.jobs.finetune_classification",
}
# Where a task without a package job is trained instead.
EXAMPLE_SCRIPTS = {
    "ner": "examples/finetune_ner.py",
    "qa": "examples/finetune_qa.py",
}


def _export(args):
    from keras_transformer.export import export_translation

    manifest = export_translation(
        args.model, args.tokenizer, args.output, **export_keyword_arguments(args)
    )
    checks = manifest["verification"]["checks"]
    print(f"Exported {manifest['formats']} to {manifest['path']}; "
          f"{len(checks)} checks against the Keras model passed "
          f"(logits within {manifest['verification']['logits_atol']:g}, "
          "tokens and texts identical).")
    return 0


def _export_encoder(args):
    from keras_transformer.export import export_encoder_model

    options = {}
    if args.opset is not None:
        options["opset"] = args.opset
    manifest = export_encoder_model(
        args.model, args.tokenizer, args.output, name=args.name,
        version=args.version, formats=args.formats, task=args.task,
        labels=args.labels, qa_config=args.qa_config, overwrite=args.overwrite,
        **options,
    )
    checks = manifest["verification"]["checks"]
    print(f"Exported the {manifest['task']} model ({manifest['formats']}) to "
          f"{manifest['path']}; {len(checks)} checks against the Keras model "
          f"passed (outputs within {manifest['verification']['logits_atol']:g}).")
    return 0


def _serve(args):
    from keras_transformer.serving import ServingLimits
    from keras_transformer.serving import load_served_model
    from keras_transformer.serving import serve

    if not _is_loopback(args.host):
        logging.warning(
            "Binding to %s: the server answers other machines. It has no "
            "authentication; put it behind one.", args.host,
        )
    limits = ServingLimits(
        max_request_bytes=args.max_request_bytes,
        max_batch_size=args.max_batch_size,
        max_text_chars=args.max_text_chars,
        max_text_tokens=args.max_text_tokens,
        request_timeout_s=args.request_timeout,
    )
    model = load_served_model(
        args.model_dir,
        runtime=args.runtime,
        name=args.model_name,
        version=args.version,
        limits=limits,
        batching=not args.no_batching,
        batch_wait_s=args.batch_wait_ms / 1000.0,
        intra_op_num_threads=args.intra_op_threads,
    )

    def ready(server):
        # One line that scripts wait for (and read the port from).
        print(f"Serving model {model.name!r} version {model.version} with the "
              f"{args.runtime} runtime at {server.url}/v1/models/{model.name}",
              flush=True)

    serve(model, host=args.host, port=args.port, access_log=args.access_log,
          ready=ready)
    batched = {name: stats for name, stats in model.batch_stats.items() if stats[0]}
    if batched:
        print("Micro-batching: " + ", ".join(
            f"{name} {rows} instances in {runs} runs"
            for name, (runs, rows) in sorted(batched.items())), flush=True)
    print("Server stopped.", flush=True)
    return 0


def _train(args, job_argv):
    module = TRAINING_JOBS[args.task]
    if importlib.util.find_spec(module) is None:
        script = EXAMPLE_SCRIPTS.get(args.task)
        where = (
            f"it is trained by the example script {script}, which is not "
            f"installed with the package: run `python -m "
            f"{script[:-3].replace('/', '.')} --help` from a checkout of the "
            "repository" if script else "the package has no training job for it"
        )
        raise ValueError(
            f"`keras-transformer train --task {args.task}` is not available: "
            f"{where}. Received: --task={args.task}"
        )
    importlib.import_module(module).main(job_argv)
    return 0


def _translate(args):
    import keras

    from keras_transformer.data import SubwordTokenizer
    from keras_transformer.data import tokenizer_record
    from keras_transformer.translation import Translator

    model_path, tokenizer_dir = _model_paths(args.model, args.tokenizer)
    model = keras.saving.load_model(model_path, compile=False)
    tokenizer = SubwordTokenizer.load(tokenizer_dir)
    translator = Translator(
        model, tokenizer, beam_width=args.beam_width, alpha=args.alpha,
        batch_size=args.batch_size,
        overlength="truncate" if args.truncate else "error",
    )
    record = tokenizer_record.read_record(tokenizer_dir) or {}
    direction = (record.get("data") or {}).get("direction", "in the direction it was trained")
    search = "greedy search" if args.beam_width == 1 else f"beam search (width {args.beam_width})"
    print(f"Translating {direction} with {model_path}, {search}.", file=sys.stderr,
          flush=True)
    if args.texts:
        chunks = [args.texts]
    else:
        chunks = _chunks((line.rstrip("\r\n") for line in sys.stdin), args.batch_size)
    for chunk in chunks:
        for translation in _translate_lines(translator, chunk):
            print(translation, flush=True)
    return 0


def _model_paths(model, tokenizer):
    """(the .keras file, the tokenizer folder) that `--model` and
    `--tokenizer` name."""
    if os.path.isdir(model):
        model_path = os.path.join(model, "model.keras")
        default_tokenizer = os.path.join(model, "tokenizer")
    else:
        model_path = model
        default_tokenizer = os.path.join(os.path.dirname(model), "tokenizer")
    if not os.path.isfile(model_path) or not model_path.endswith(".keras"):
        raise ValueError(
            "Received an invalid value for argument `--model`, expected a "
            "folder holding model.keras and tokenizer/ (what `keras-transformer "
            f"train` writes to its --output-dir) or a .keras file. Received: "
            f"--model={model!r}"
        )
    return model_path, tokenizer or default_tokenizer


def _chunks(lines, size):
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _translate_lines(translator, lines):
    """Translations of `lines`, one per line: a blank line stays blank, so
    output line i always answers input line i."""
    texts = [line for line in lines if line.strip()]
    translated = iter(translator.translate(texts))
    return [next(translated) if line.strip() else "" for line in lines]


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_export_arguments(parser):
    """Adds the options of `export_translation` (all but its three paths).

    Shared with `export/export_translation.py`, so both spell them alike.
    """
    parser.add_argument("--name", default="translator", help="model name")
    parser.add_argument("--version", type=int, default=1, help="model version (> 0)")
    parser.add_argument("--formats", default="savedmodel,onnx",
                        help="comma-separated: savedmodel, onnx")
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset, 17 or 18 (default: the exporter's, 17)")
    parser.add_argument("--max-output-length", type=int, default=None,
                        help="most ids generated (default: max_sequence_length - 1)")
    parser.add_argument("--beam-width", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=0.6, help="length-penalty exponent")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing version folder")
    parser.add_argument("--no-text-signatures", action="store_true",
                        help="leave out translate/translate_greedy, whose graphs need "
                             "TensorFlow Text ops, so that any TF Serving loads the "
                             "SavedModel")
    return parser


def export_keyword_arguments(args):
    """The keyword arguments of `export_translation` from parsed options."""
    options = dict(
        name=args.name,
        version=args.version,
        formats=args.formats,
        max_output_length=args.max_output_length,
        beam_width=args.beam_width,
        alpha=args.alpha,
        overwrite=args.overwrite,
        text_signatures=not args.no_text_signatures,
    )
    if args.opset is not None:
        options["opset"] = args.opset
    return options


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-transformer",
        description="Train a keras_transformer translation model and translate "
                    "with it; export a trained translation or BERT task model "
                    "and serve it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    # The translation job parses its own options (`train --help` lists
    # them): one definition for this command and examples/train_translation.py.
    train = commands.add_parser(
        "train",
        help="train a model: the translation job (`make demo`'s defaults); "
             "`keras-transformer train --help` lists its options",
        add_help=False,
        allow_abbrev=False,
    )
    train.add_argument("--task", choices=sorted(TRAINING_JOBS), default="translation",
                       help="what to train (ner and qa: see examples/finetune_*.py)")
    train.set_defaults(run=_train, passes_options=True)

    translate = commands.add_parser(
        "translate",
        help="translate text with a trained model (arguments, or stdin lines)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    translate.add_argument("--model", required=True,
                           help="the training --output-dir (model.keras and "
                                "tokenizer/), or a .keras file")
    translate.add_argument("--tokenizer", default=None,
                           help="its tokenizer folder (default: tokenizer/ beside "
                                "the model)")
    translate.add_argument("--beam-width", type=int, default=4,
                           help="1 for greedy search")
    translate.add_argument("--alpha", type=float, default=0.6,
                           help="beam search length-penalty exponent")
    translate.add_argument("--batch-size", type=int, default=32,
                           help="sentences decoded together")
    translate.add_argument("--truncate", action="store_true",
                           help="cut sentences longer than the model's maximum "
                                "(logged) instead of failing")
    translate.add_argument("texts", nargs="*",
                           help="sentences to translate; without any, each line "
                                "of stdin is one (a blank line gives a blank line)")
    translate.set_defaults(run=_translate)

    export = commands.add_parser(
        "export",
        help="write a verified SavedModel and ONNX export (TF Serving layout)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    export.add_argument("--model", required=True, help="the trained model's .keras file")
    export.add_argument("--tokenizer", required=True, help="its tokenizer folder")
    export.add_argument("--output", required=True,
                        help="export root; the model goes to OUTPUT/NAME/VERSION/")
    add_export_arguments(export)
    export.set_defaults(run=_export)

    encoder = commands.add_parser(
        "export-encoder",
        help="write a verified SavedModel and ONNX export of a fine-tuned BERT "
             "task model (BertTokenClassifier, BertSpanExtractor, BertClassifier)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    encoder.add_argument("--model", required=True, help="the fine-tuned model's .keras file")
    encoder.add_argument("--tokenizer", required=True, help="its BertTokenizer folder")
    encoder.add_argument("--output", required=True,
                         help="export root; the model goes to OUTPUT/NAME/VERSION/")
    encoder.add_argument("--name", required=True, help="model name")
    encoder.add_argument("--version", type=int, default=1, help="model version (> 0)")
    encoder.add_argument("--formats", default="savedmodel,onnx",
                         help="comma-separated: savedmodel, onnx")
    encoder.add_argument("--opset", type=int, default=None,
                         help="ONNX opset, 17 or 18 (default: the exporter's, 17)")
    encoder.add_argument("--task", default=None,
                         choices=["token_classification", "question_answering",
                                  "classification"],
                         help="default: inferred from the model's class")
    encoder.add_argument("--labels", default=None,
                         help="JSON list (or one per line) of the tag names (token "
                              "classification, required) or class names")
    encoder.add_argument("--qa-config", default=None,
                         help="question answering: JSON of the windowing and "
                              "decoding settings (qa_config.json of "
                              "examples/finetune_qa.py); default: BERT's, scaled "
                              "to the model's maximum length")
    encoder.add_argument("--overwrite", action="store_true",
                         help="replace an existing version folder")
    encoder.set_defaults(run=_export_encoder)

    serve = commands.add_parser(
        "serve",
        help="serve an export over TensorFlow Serving's REST API",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--model-dir", required=True,
                       help="model base path EXPORT/NAME (or a version folder)")
    serve.add_argument("--model-name", default=None,
                       help="name in URLs (default: the exported name)")
    serve.add_argument("--version", type=int, default=None,
                       help="version to serve (default: the highest)")
    serve.add_argument("--runtime", choices=["savedmodel", "onnx"], default="savedmodel")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind; loopback unless told otherwise")
    serve.add_argument("--port", type=int, default=8501, help="TCP port (0: any free)")
    serve.add_argument("--max-request-bytes", type=int, default=1 << 20)
    serve.add_argument("--max-batch-size", type=int, default=64)
    serve.add_argument("--max-text-chars", type=int, default=2000)
    serve.add_argument("--max-text-tokens", type=int, default=None,
                       help="default: the model's max_sequence_length")
    serve.add_argument("--request-timeout", type=float, default=30.0,
                       help="seconds to receive a request / idle keep-alive")
    serve.add_argument("--no-batching", action="store_true",
                       help="run every request on its own")
    serve.add_argument("--batch-wait-ms", type=float, default=0.0,
                       help="how long a batch waits for more requests")
    serve.add_argument("--intra-op-threads", type=int, default=0,
                       help="onnxruntime threads per session (0: one per core)")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(run=_serve)
    return parser


def main(argv=None):
    """Runs the command; returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "passes_options", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("keras_transformer").setLevel(logging.INFO)
    from keras_transformer.export.verification import VerificationError

    try:
        if getattr(args, "passes_options", False):
            return args.run(args, unknown)
        return args.run(args)
    except VerificationError as error:
        print(f"keras-transformer {args.command}: verification failed: {error}",
              file=sys.stderr)
        return 1
    except ValueError as error:
        # Keras-style ValueErrors already say what to change.
        print(f"keras-transformer {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
