"""Serving over TensorFlow Serving's REST API, with TensorFlow or ONNX Runtime.

    keras-transformer serve --model-dir exports/en_es --runtime onnx --port 8501
    curl -d '{"instances": ["In the beginning"]}' \\
        localhost:8501/v1/models/en_es:predict

`ServedModel` loads a translation export (`keras_transformer.export`) in
one runtime and checks requests against `ServingLimits`;
`ServedEncoderModel` does the same for a BERT task export, with its
server-side text signatures (`text_tasks`); `load_served_model` picks the
one the export's manifest calls for. `ModelServer` answers HTTP; `serve`
runs it until SIGTERM. `rest_api` holds the request and response formats.
"""

from keras_transformer.serving import rest_api
from keras_transformer.serving import text_tasks
from keras_transformer.serving.batcher import MicroBatcher
from keras_transformer.serving.errors import RequestError
from keras_transformer.serving.factory import load_served_model
from keras_transformer.serving.limits import ServingLimits
from keras_transformer.serving.model_server import ModelServer
from keras_transformer.serving.model_server import serve
from keras_transformer.serving.onnx_encoder_runtime import OnnxEncoderRuntime
from keras_transformer.serving.onnx_runtime import OnnxRuntime
from keras_transformer.serving.savedmodel_runtime import SavedModelRuntime
from keras_transformer.serving.served_encoder_model import ServedEncoderModel
from keras_transformer.serving.served_model import ServedModel
from keras_transformer.serving.served_model_base import RUNTIMES
from keras_transformer.serving.server_process import ServerProcess

__all__ = [
    "RUNTIMES",
    "MicroBatcher",
    "ModelServer",
    "OnnxEncoderRuntime",
    "OnnxRuntime",
    "RequestError",
    "SavedModelRuntime",
    "ServedEncoderModel",
    "ServedModel",
    "ServerProcess",
    "ServingLimits",
    "load_served_model",
    "rest_api",
    "serve",
    "text_tasks",
]
