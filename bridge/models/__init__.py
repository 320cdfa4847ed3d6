"""Models: TensorFlow SavedModels loaded once and called with plain Python lists.

from bridge.models import SavedModel
model = SavedModel("build/models/sentiment-small")
model.signature.input_names        # ['text']
model.predict({"text": ["Ripe, juicy and long."]})
"""

from __future__ import annotations

from bridge.models.savedmodel import (
    SERVING_DEFAULT,
    ModelError,
    SavedModel,
    Signature,
    TensorInfo,
    load,
)

__all__ = ["SERVING_DEFAULT", "ModelError", "SavedModel", "Signature", "TensorInfo", "load"]
