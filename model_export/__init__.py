"""User-interest model for recstream: definition, training, evaluation and ONNX export.

The streaming job only needs :mod:`model_export.runtime` (numpy + onnxruntime, no
torch).  Everything else (``data``, ``split``, ``metrics``, ``models``, ``train``,
``evaluate``, ``export``, ``demo``, ``cli``) is offline tooling and needs torch.

Importing this package must stay cheap and torch-free, so nothing is imported here.
"""

__version__ = "0.1.0"
