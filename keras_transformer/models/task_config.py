"""Config helpers shared by the task models built on a `BertEncoder`.

A task model's config is its constructor arguments, with the encoder
serialized whole (architecture and dtype policy) so that `.keras` files and
`from_config` rebuild the same encoder under the head.
"""

import keras


def task_model_config(model, **arguments):
    """Returns `model`'s config: name, trainable, the serialized encoder and
    the task's own constructor `arguments`."""
    return {
        "name": model.name,
        "trainable": model.trainable,
        "encoder": keras.saving.serialize_keras_object(model.encoder),
        **arguments,
    }


def deserialize_encoder(config):
    """Returns a copy of `config` whose "encoder" is a model again."""
    config = dict(config)
    if isinstance(config["encoder"], dict):
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
    return config
