"""IVFFLAT index: faiss IndexIVFFlat, inverted lists of full vectors behind a flat quantizer."""

from __future__ import annotations

from typing import Any

import faiss

from qiao.vectordb.index.trained import TrainedIndex, validate_ivf_params

__all__ = ["IvfFlatIndex"]


class IvfFlatIndex(TrainedIndex):
    """Inverted lists over ``ncentroids`` k-means cells; a search scans ``nprobe`` cells.

    Scores are exact distances, as the lists keep the full vectors.
    """

    type_name = "IVFFLAT"

    @classmethod
    def validate_params(cls, params: dict[str, Any], dimension: int) -> dict[str, Any]:
        return validate_ivf_params(params, cls.type_name)

    def new_faiss_index(self) -> faiss.Index:
        quantizer = faiss.IndexFlat(self.dimension, self.metric.faiss_metric)
        return faiss.IndexIVFFlat(
            quantizer, self.dimension, self.params["ncentroids"], self.metric.faiss_metric
        )

    def _check_loaded(self, index: faiss.Index) -> None:
        if not isinstance(index, faiss.IndexIVFFlat):
            raise ValueError("the saved index is not an IVFFLAT index")
        if index.nlist != self.params["ncentroids"]:
            raise ValueError(
                f"the saved index has {index.nlist} centroids, the schema "
                f"{self.params['ncentroids']}"
            )
