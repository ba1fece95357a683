"""The pure parts of the builders: case settings, padding, and which cases share one build."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")

from harness import builders  # noqa: E402

MODEL = {
    "rnn": "lstm",
    "units": 8,
    "timesteps": 12,
    "features": 4,
    "batch": 8,
    "padding": "post",
    "pad_fraction": 0.25,
    "mask": 0.0,
    "seed": 0,
}


@pytest.mark.parametrize(("padding", "masked"), [("post", slice(9, 12)), ("pre", slice(0, 3))])
def test_padding_holds_exactly_the_mask_value(padding: str, masked: slice) -> None:
    cfg = builders.settings(MODEL, {"mask_value": "list", "format": ".keras", "padding": padding})
    x = builders.padded_batch(cfg)
    assert x.shape == (8, 12, 4) and x.dtype == np.float32
    assert (x[:, masked, :] == 0.0).all()
    real = builders.real_steps(cfg)
    assert real.stop - real.start == 9 and not (x[:, real, :] == 0.0).all(axis=2).any()


def test_params_override_model_settings() -> None:
    cfg = builders.settings(MODEL, {"rnn": "gru", "outputs": "sequence", "route": "repair", "mask_value": "list"})
    assert (cfg["rnn"], cfg["return_sequences"], cfg["route"]) == ("gru", True, "repair")
    assert builders.settings(MODEL, {})["route"] == "plain"


def test_build_key_groups_cases_that_start_from_one_model() -> None:
    key = lambda **p: builders.build_key("masking_rnn", MODEL, p)  # noqa: E731
    plain = key(mask_value="tensor-float64", format=".keras")
    assert plain == key(mask_value="tensor-float64", format=".h5")
    assert plain == key(mask_value="tensor-float64", format="savedmodel", route="savedmodel")
    assert plain == key(mask_value="tensor-float64", format=".keras", route="custom-objects")
    assert plain != key(mask_value="tensor-float64", format=".keras", route="custom-layer")
    assert plain != key(mask_value="tensor-float32", format=".keras")
    assert plain != key(mask_value="tensor-float64", format=".keras", rnn="gru")


def test_every_builder_declares_ids_and_settings() -> None:
    for name in builders.BUILDERS:
        assert set(builders.REQUIRED_PARAMS[name]) <= set(builders.PARAM_IDS[name])
        assert builders.MODEL_KEYS[name] or name == "fault"  # the fault cases build no model
