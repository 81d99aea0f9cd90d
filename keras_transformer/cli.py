"""The `keras-transformer` command: `export` a trained model, `serve` it.

    keras-transformer export --model artifacts/translation/model.keras \\
        --tokenizer artifacts/translation/tokenizer --output exports \\
        --name en_es --version 1 --formats savedmodel,onnx
    keras-transformer export-encoder --model artifacts/ner/model.keras \\
        --tokenizer artifacts/ner/tokenizer --output exports --name ner \\
        --labels artifacts/ner/tags.json
    keras-transformer serve --model-dir exports/en_es --runtime onnx

(`export-encoder` exports a fine-tuned BERT task model; `serve` serves
either kind of export.)

(`python -m keras_transformer.cli ...` where the console script is not
installed.) Wrong arguments exit with status 2 and a one-line message.
"""

import argparse
import ipaddress
import logging
import sys


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
        description="Export a trained keras_transformer translation or BERT task "
                    "model and serve it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("keras_transformer").setLevel(logging.INFO)
    from keras_transformer.export.verification import VerificationError

    try:
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
