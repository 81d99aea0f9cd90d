"""Serving over TensorFlow Serving's REST API, with TensorFlow or ONNX Runtime.

    keras-transformer serve --model-dir exports/en_es --runtime onnx --port 8501
    curl -d '{"instances": ["In the beginning"]}' \\
        localhost:8501/v1/models/en_es:predict

`ServedModel` loads an export (`keras_transformer.export`) in one runtime
and checks requests against `ServingLimits`; `ModelServer` answers HTTP;
`serve` runs it until SIGTERM. `rest_api` holds the request and response
formats.
"""

from keras_transformer.serving import rest_api
from keras_transformer.serving.batcher import MicroBatcher
from keras_transformer.serving.errors import RequestError
from keras_transformer.serving.limits import ServingLimits
from keras_transformer.serving.model_server import ModelServer
from keras_transformer.serving.model_server import serve
from keras_transformer.serving.onnx_runtime import OnnxRuntime
from keras_transformer.serving.served_model import RUNTIMES
from keras_transformer.serving.savedmodel_runtime import SavedModelRuntime
from keras_transformer.serving.served_model import ServedModel
from keras_transformer.serving.server_process import ServerProcess

__all__ = [
    "RUNTIMES",
    "MicroBatcher",
    "ModelServer",
    "OnnxRuntime",
    "RequestError",
    "SavedModelRuntime",
    "ServedModel",
    "ServerProcess",
    "ServingLimits",
    "rest_api",
    "serve",
]
