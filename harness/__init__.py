"""maskcompat: which saved masked-RNN models survive a TensorFlow/Keras upgrade, measured."""

from __future__ import annotations

__version__ = "0.1.0"
