"""Every example runs end to end on tiny settings."""

import numpy as np

from examples import layers_demo


def test_layers_demo_trains_and_round_trips(tmp_path):
    result = layers_demo.main(
        ["--epochs", "1", "--num-examples", "128", "--hidden-dim", "16",
         "--num-layers", "1", "--output-dir", str(tmp_path)]
    )
    assert 0.0 <= result["accuracy"] <= 1.0
    assert (tmp_path / "reversal.keras").exists()


def test_reversal_data_is_reversed_and_shifted():
    (source, target_in), target_out = layers_demo.make_reversal_data(8, 6, 10, 0)
    for s, t_in, t_out in zip(source, target_in, target_out):
        length = int(np.sum(s != 0))
        np.testing.assert_array_equal(t_out[:length], s[:length][::-1])
        assert t_in[0] == layers_demo.START
        np.testing.assert_array_equal(t_in[1:length], t_out[: length - 1])
        assert np.all(t_in[length:] == 0) and np.all(t_out[length:] == 0)
