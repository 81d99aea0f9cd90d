"""A `Seq2SeqTransformer`'s decoding API over onnxruntime sessions."""

import json
import pathlib

import numpy as np

from keras_transformer.export.onnx_export import METADATA_KEY
from keras_transformer.export.onnx_sessions import cpu_session


class OnnxSeq2Seq:
    """Runs the graphs of `export_onnx` with onnxruntime; NumPy in and out.

    It mirrors `Seq2SeqTransformer`'s decoding API (`encode`,
    `initial_cache`, `decode_step`), so `onnx_search.greedy_search` and
    `onnx_search.beam_search` drive it like `keras_transformer.generation`
    drives the Keras model. Sessions are thread-safe: one instance may
    serve concurrent requests.

    Args:
        directory: Folder with `encoder.onnx`, `decoder_step.onnx` and
            (optional) `forward.onnx`.
        intra_op_num_threads: Threads per session (0: onnxruntime's
            default, one per physical core).
    """

    def __init__(self, directory, intra_op_num_threads=0):
        directory = pathlib.Path(directory)
        # Decoding alternates short session runs with NumPy work: threads
        # that spin between runs (onnxruntime's default) would take the
        # cores from that work and from concurrent requests (about 3x
        # slower beam search on 2 cores).
        self.encoder_session = cpu_session(directory / "encoder.onnx", intra_op_num_threads)
        self.decoder_step_session = cpu_session(
            directory / "decoder_step.onnx", intra_op_num_threads
        )
        forward = directory / "forward.onnx"
        # The forward pass is one long run with no NumPy work in between:
        # there spinning threads help (batch 1: 16.8 -> 12.8 ms for
        # cpu_small on 2 cores), as TensorFlow's do.
        self.forward_session = (
            cpu_session(forward, intra_op_num_threads, spinning=True)
            if forward.exists()
            else None
        )
        config = json.loads(
            self.decoder_step_session.get_modelmeta().custom_metadata_map[METADATA_KEY]
        )
        self.num_decoder_layers = config["num_decoder_layers"]
        self.num_heads = config["num_heads"]
        self.head_dim = config["head_dim"]
        self.encoder_vocabulary_size = config["encoder_vocabulary_size"]
        self.decoder_vocabulary_size = config["decoder_vocabulary_size"]
        self.max_sequence_length = config["max_sequence_length"]

    def logits(self, encoder_token_ids, decoder_token_ids):
        """(B, S) and (B, T) int32 ids -> (B, T, V) float32 logits."""
        if self.forward_session is None:
            raise ValueError(
                "This export has no forward.onnx, so it cannot compute the "
                "full-sequence logits; decode with `encode` and "
                "`decode_step` instead."
            )
        (logits,) = self.forward_session.run(
            ["logits"],
            {
                "encoder_token_ids": np.asarray(encoder_token_ids, np.int32),
                "decoder_token_ids": np.asarray(decoder_token_ids, np.int32),
            },
        )
        return logits

    def encode(self, encoder_token_ids):
        """Returns `(cross_attention, encoder_padding_mask)`.

        `cross_attention` is a list, per decoder layer, of (B, 2, S, N, H)
        keys and values; the mask is (B, S) bool, `True` = a real token.
        """
        encoder_token_ids = np.asarray(encoder_token_ids, np.int32)
        names = [f"cross_attention_{i}" for i in range(self.num_decoder_layers)]
        cross_attention = self.encoder_session.run(
            names, {"encoder_token_ids": encoder_token_ids}
        )
        return cross_attention, encoder_token_ids != 0

    def initial_cache(self, cross_attention):
        """Empty (B, 2, 0, N, H) self-attention caches plus the cross ones."""
        batch_size = cross_attention[0].shape[0]
        empty = np.zeros(
            (batch_size, 2, 0, self.num_heads, self.head_dim), np.float32
        )
        return [
            {"self_attention": empty, "cross_attention": cross}
            for cross in cross_attention
        ]

    def decode_step(self, decoder_token_ids, encoder_padding_mask, cache, index):
        """Runs the decoder on the token at position `index`.

        Args:
            decoder_token_ids: (B, 1) int32, the token at `index`.
            encoder_padding_mask: (B, S) bool.
            cache: From `initial_cache` or the previous step.
            index: The token's position (an int).

        Returns:
            `(logits, cache)`: (B, V) float32 logits of the next token and
            the cache grown by one position.
        """
        feed = {
            "decoder_token_ids": np.asarray(decoder_token_ids, np.int32),
            "index": np.asarray(index, np.int32),
            "encoder_padding_mask": np.asarray(encoder_padding_mask, bool),
        }
        for i, layer_cache in enumerate(cache):
            feed[f"past_self_attention_{i}"] = layer_cache["self_attention"]
            feed[f"cross_attention_{i}"] = layer_cache["cross_attention"]
        names = ["logits"] + [
            f"present_self_attention_{i}" for i in range(self.num_decoder_layers)
        ]
        logits, *present = self.decoder_step_session.run(names, feed)
        cache = [
            {"self_attention": grown, "cross_attention": layer_cache["cross_attention"]}
            for grown, layer_cache in zip(present, cache)
        ]
        return logits, cache
