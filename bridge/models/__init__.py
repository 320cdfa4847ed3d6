"""Models: TensorFlow SavedModels loaded once and called with plain Python lists.

from bridge.models import SavedModel
model = SavedModel("build/models/sentiment-small")
model.signature.input_names        # ['text']
model.predict({"text": ["Ripe, juicy and long."]})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.models.savedmodel import (
        SERVING_DEFAULT,
        ModelError,
        SavedModel,
        Signature,
        TensorInfo,
        load,
    )


def __getattr__(name: str) -> Any:
    # TensorFlow is imported with the first of these names, not with the package: processes
    # that only need bridge.models.dictionary (the HTTP client) never load it.
    if name in __all__:
        from bridge.models import savedmodel

        return getattr(savedmodel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SERVING_DEFAULT", "ModelError", "SavedModel", "Signature", "TensorInfo", "load"]
