"""The published workaround layers, built against whichever Keras a cell imports (Keras 2 or 3)."""

from __future__ import annotations

from typing import Any

from harness.rewrite import plain, untag

_CACHE: dict[tuple[int, str], Any] = {}


def tolerant_masking(keras: Any) -> Any:
    """A Masking subclass whose from_config turns a tagged tensor/array dict back into a value (custom_objects)."""
    key = (id(keras), "tolerant")
    if key not in _CACHE:

        class TolerantMasking(keras.layers.Masking):  # type: ignore[misc]
            @classmethod
            def from_config(cls, config: dict[str, Any]) -> Any:
                config = dict(config)
                config["mask_value"] = untag(config.get("mask_value", 0.0))
                return cls(**config)

        _CACHE[key] = TolerantMasking
    return _CACHE[key]


def list_masking(keras: Any, as_tensor: Any) -> Any:
    """A registered Masking subclass that stores mask_value as a plain list and rebuilds the tensor itself."""
    key = (id(keras), "list")
    if key not in _CACHE:
        register = getattr(getattr(keras, "saving", None), "register_keras_serializable", None)
        register = register or keras.utils.register_keras_serializable

        @register(package="maskcompat", name="ListMasking")
        class ListMasking(keras.layers.Masking):  # type: ignore[misc]
            def __init__(self, mask_value: Any = 0.0, **kwargs: Any) -> None:
                self._mask_list = plain(untag(mask_value))
                super().__init__(mask_value=as_tensor(self._mask_list), **kwargs)

            def get_config(self) -> dict[str, Any]:
                config = dict(super().get_config())
                config["mask_value"] = self._mask_list
                return config

        _CACHE[key] = ListMasking
    return _CACHE[key]
