"""Export for serving: a verified SavedModel and ONNX graphs.

    from keras_transformer.export import export_translation

    manifest = export_translation("model.keras", "tokenizer/", "exports",
                                  name="en_es", version=1)
    # exports/en_es/1/: SavedModel (text in, text out) + assets.extra/onnx/

The SavedModel's signatures are listed in `signatures`; the folder layout
(TF Serving's `NAME/VERSION/`) in `layout`; what is checked before an
export counts in `verification`. `OnnxSeq2Seq` with `onnx_search` decodes
with onnxruntime alone. `keras_transformer.serving` serves either runtime
over TF Serving's REST API.

Fine-tuned BERT task models (`BertTokenClassifier`, `BertSpanExtractor`,
`BertClassifier`) export the same way, with one ids-in signature
(`encoder_signatures`) and the settings of the server's text signatures:

    manifest = export_encoder_model("ner/model.keras", "ner/tokenizer",
                                    "exports", name="ner",
                                    labels="ner/tags.json")
"""

from keras_transformer.export import encoder_signatures
from keras_transformer.export import layout
from keras_transformer.export import onnx_search
from keras_transformer.export import signatures
from keras_transformer.export.decoding_config import DecodingConfig
from keras_transformer.export.demo import make_demo_export
from keras_transformer.export.demo import make_demo_translator
from keras_transformer.export.encoder_demo import make_demo_encoder_exports
from keras_transformer.export.encoder_demo import make_demo_encoder_model
from keras_transformer.export.encoder_exporter import export_encoder_model
from keras_transformer.export.encoder_onnx_export import export_encoder_onnx
from keras_transformer.export.encoder_serving_module import EncoderServingModule
from keras_transformer.export.encoder_verification import verify_encoder_onnx
from keras_transformer.export.encoder_verification import verify_encoder_saved_model
from keras_transformer.export.exporter import export_translation
from keras_transformer.export.onnx_export import DEFAULT_OPSET
from keras_transformer.export.onnx_encoder import OnnxEncoder
from keras_transformer.export.onnx_export import export_onnx
from keras_transformer.export.onnx_seq2seq import OnnxSeq2Seq
from keras_transformer.export.precision import as_float32
from keras_transformer.export.qa_config import QaConfig
from keras_transformer.export.tf2onnx_compat import patch_tf2onnx
from keras_transformer.export.translation_serving_module import (
    TranslationServingModule,
)
from keras_transformer.export.verification import LOGITS_ATOL
from keras_transformer.export.verification import VerificationError
from keras_transformer.export.verification import check_onnx_graph
from keras_transformer.export.verification import verify_onnx
from keras_transformer.export.verification import verify_saved_model

__all__ = [
    "DEFAULT_OPSET",
    "DecodingConfig",
    "EncoderServingModule",
    "LOGITS_ATOL",
    "OnnxEncoder",
    "OnnxSeq2Seq",
    "QaConfig",
    "TranslationServingModule",
    "VerificationError",
    "as_float32",
    "check_onnx_graph",
    "encoder_signatures",
    "export_encoder_model",
    "export_encoder_onnx",
    "export_onnx",
    "export_translation",
    "layout",
    "make_demo_encoder_exports",
    "make_demo_encoder_model",
    "make_demo_export",
    "make_demo_translator",
    "onnx_search",
    "patch_tf2onnx",
    "signatures",
    "verify_encoder_onnx",
    "verify_encoder_saved_model",
    "verify_onnx",
    "verify_saved_model",
]
