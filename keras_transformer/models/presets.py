"""Named configurations of `Seq2SeqTransformer`.

"transformer_base" is the base model of "Attention Is All You Need"
(table 3); the others are sized for CPUs. Vocabulary sizes are not part of a
preset: they come from the tokenizer.
"""

SEQ2SEQ_PRESETS = {
    "transformer_base": dict(
        num_encoder_layers=6,
        num_decoder_layers=6,
        hidden_dim=512,
        num_heads=8,
        intermediate_dim=2048,
        dropout=0.1,
        max_sequence_length=256,
    ),
    "transformer_big": dict(
        num_encoder_layers=6,
        num_decoder_layers=6,
        hidden_dim=1024,
        num_heads=16,
        intermediate_dim=4096,
        dropout=0.3,
        max_sequence_length=256,
    ),
    # The default of the main job: trains in minutes on 2 CPU cores.
    "cpu_small": dict(
        num_encoder_layers=3,
        num_decoder_layers=3,
        hidden_dim=256,
        num_heads=4,
        intermediate_dim=1024,
        dropout=0.1,
        max_sequence_length=128,
    ),
    # For tests and smoke runs.
    "cpu_tiny": dict(
        num_encoder_layers=1,
        num_decoder_layers=1,
        hidden_dim=32,
        num_heads=2,
        intermediate_dim=64,
        dropout=0.0,
        max_sequence_length=64,
    ),
}
