"""Training-data preparation and general/domain mixing for the model workshop."""

from qiao.workshop.data.formats import FORMATS, FieldOptions
from qiao.workshop.data.mix import mix_data, mix_rows, parse_ratio, shuffle_for_epoch
from qiao.workshop.data.pii import PiiScrubber
from qiao.workshop.data.prepare import PrepareOptions, prepare_data
from qiao.workshop.data.shared_sets import (
    general_zh_path,
    med_dialogue_pairs,
    write_med_dialogue_pairs,
)

__all__ = [
    "FORMATS",
    "FieldOptions",
    "PiiScrubber",
    "PrepareOptions",
    "general_zh_path",
    "med_dialogue_pairs",
    "mix_data",
    "mix_rows",
    "parse_ratio",
    "prepare_data",
    "shuffle_for_epoch",
    "write_med_dialogue_pairs",
]
