"""How an exported model decodes: fixed at export, recorded in the manifest."""

import dataclasses

from keras_transformer.layers import checks


@dataclasses.dataclass(frozen=True)
class DecodingConfig:
    """Decoding settings of the `translate` / `generate` signatures.

    Attributes:
        max_output_length: L, the most ids generated per sentence (output ids
            are (B, L), 0-padded after the end id).
        beam_width: K of the beam-search signatures (the `_greedy` ones use
            greedy search).
        alpha: Beam search's length-penalty exponent.
        start_id: The decoder's first token.
        end_id: The token that ends an output.
        pad_id: Padding, in inputs and after the end of an output.

    Example:

    >>> config = DecodingConfig(max_output_length=20, beam_width=1)
    >>> config.to_json()["alpha"], DecodingConfig.from_json(config.to_json()) == config
    (0.6, True)
    """

    max_output_length: int
    beam_width: int = 4
    alpha: float = 0.6
    start_id: int = 2
    end_id: int = 3
    pad_id: int = 0

    def __post_init__(self):
        checks.positive_int("max_output_length", self.max_output_length)
        checks.positive_int("beam_width", self.beam_width)
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)):
            raise checks.invalid_argument("alpha", "a number", self.alpha)
        for name in ("start_id", "end_id", "pad_id"):
            checks.non_negative_int(name, getattr(self, name))

    @classmethod
    def for_model(cls, model, tokenizer, max_output_length=None, beam_width=4,
                  alpha=0.6):
        """The `Translator` defaults: L = the model's maximum length - 1."""
        return cls(
            max_output_length=max_output_length or model.max_sequence_length - 1,
            beam_width=beam_width,
            alpha=float(alpha),
            start_id=tokenizer.start_id,
            end_id=tokenizer.end_id,
            pad_id=tokenizer.pad_id,
        )

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, config):
        return cls(**config)
