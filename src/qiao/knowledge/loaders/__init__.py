"""Document loaders, one per file format, chosen by extension in :func:`load_file`."""

from qiao.knowledge.loaders.base import Document, Loader, LoadOptions, Section
from qiao.knowledge.loaders.factory import SUPPORTED_EXTENSIONS, get_loader, iter_files, load_file

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Document",
    "LoadOptions",
    "Loader",
    "Section",
    "get_loader",
    "iter_files",
    "load_file",
]
