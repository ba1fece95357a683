"""The model kit's input and the registry's case settings: padding, parameters, which cases share one build."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")

from harness.child import kit  # noqa: E402
from harness.decl import registry  # noqa: E402

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
    cfg = registry.settings(MODEL, {"mask_value": "list", "format": ".keras", "padding": padding})
    x = kit.padded_batch(cfg)
    assert x.shape == (8, 12, 4) and x.dtype == np.float32
    assert (x[:, masked, :] == 0.0).all()
    real = kit.real_steps(cfg)
    assert real.stop - real.start == 9 and not (x[:, real, :] == 0.0).all(axis=2).any()


def test_params_override_model_settings() -> None:
    cfg = registry.settings(MODEL, {"rnn": "gru", "outputs": "sequence", "route": "repair", "mask_value": "list"})
    assert (cfg["rnn"], cfg["return_sequences"], cfg["route"]) == ("gru", True, "repair")
    assert registry.settings(MODEL, {})["route"] == "plain"


def test_build_key_groups_cases_that_start_from_one_model() -> None:
    key = lambda **p: registry.build_key("masking_rnn", MODEL, p)  # noqa: E731
    plain = key(mask_value="tensor-float64", format=".keras")
    assert plain == key(mask_value="tensor-float64", format=".h5")
    assert plain == key(mask_value="tensor-float64", format="savedmodel", route="savedmodel")
    assert plain == key(mask_value="tensor-float64", format=".keras", route="custom-objects")
    assert plain != key(mask_value="tensor-float64", format=".keras", route="custom-layer")
    assert plain != key(mask_value="tensor-float32", format=".keras")
    assert plain != key(mask_value="tensor-float64", format=".keras", rnn="gru")


def test_every_builder_declares_ids_settings_and_a_handler() -> None:
    for name, spec in registry.BUILDERS.items():
        assert set(spec.required) <= set(spec.param_ids)
        assert spec.model_keys or name in ("fault", "upgrade")  # faults build no model; upgrade loads saved ones
        assert spec.handler.version >= 1


def test_the_latency_input_pads_the_end_with_zeros_and_knows_its_lengths() -> None:
    cfg = {"units": 64, "timesteps": 352, "features": 4, "batch": 32, "pad_fraction": 0.25, "seed": 0}
    x, lengths = kit.padded_batch(cfg), kit.lengths(cfg)
    assert x.shape == (32, 352, 4) and x.dtype == np.float32
    assert (lengths == 264).all()
    assert not x[:, 264:, :].any()
    assert (np.abs(x[:, :264, :]).sum(axis=2) > 0).all()  # no real step looks like padding
