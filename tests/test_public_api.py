"""The public API of each package, pinned: a change here is a change for users."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API = {
    "qiao": [
        "AlreadyExistsError",
        "ConfigError",
        "IngestError",
        "InvalidInputError",
        "LockedError",
        "MissingDependencyError",
        "ModelError",
        "NotFoundError",
        "QiaoError",
        "StorageError",
        "__version__",
    ],
    "qiao.vectordb": [
        "Engine",
        "ErrorCode",
        "Space",
        "VectorDBError",
        "VectorDatabase",
        "VectorSpace",
        "connect",
    ],
    "qiao.vectordb.client": ["RemoteEngine", "RemoteSpace"],
    "qiao.vectordb.server": ["ServerSettings", "VearchMount", "create_app", "serve"],
    "qiao.knowledge": [
        "Answer",
        "Answerer",
        "Chunk",
        "Citation",
        "Document",
        "Hit",
        "HybridRetriever",
        "IngestReport",
        "KnowledgeBase",
        "KnowledgeBaseRegistry",
        "LoadOptions",
        "build_answerer",
        "chunk_document",
        "evaluate_answers",
        "evaluate_retrieval",
        "ingest_paths",
        "load_file",
        "read_qa",
        "remove_paths",
    ],
    "qiao.llm": [
        "ChatMessage",
        "Completion",
        "DEFAULT_MODEL",
        "Generator",
        "LlamaCppGenerator",
        "OpenAICompatibleGenerator",
        "PartedModel",
        "ROLES",
        "check_messages",
        "create_generator",
        "default_model_available",
        "ensure_default_model",
        "estimate_tokens",
        "find_part_files",
        "generator_status",
        "llama_cpp_installed",
        "verify_model_file",
    ],
    "qiao.gateway": ["ApiKey", "GatewayServer", "KeyStore", "build_server", "create_app"],
    "qiao.knowledge.embedders": ["Embedder", "create_embedder", "normalize_rows"],
    "qiao.knowledge.loaders": [
        "Document",
        "LoadOptions",
        "Loader",
        "SUPPORTED_EXTENSIONS",
        "Section",
        "get_loader",
        "iter_files",
        "load_file",
    ],
    "qiao.workshop.data": [
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
    ],
    "qiao.workshop.evaluate": [
        "EVAL_SETS",
        "EvalProgress",
        "EvalSettings",
        "METRICS",
        "compare_results",
        "evaluate_model",
        "read_eval_result",
        "write_eval_result",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_public_api_pinned(module_name: str):
    module = importlib.import_module(module_name)

    assert sorted(module.__all__) == PUBLIC_API[module_name]
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name} is missing"


def test_errors_share_one_base():
    import qiao
    from qiao.vectordb import VectorDBError

    for name in PUBLIC_API["qiao"]:
        if name.endswith("Error"):
            assert issubclass(getattr(qiao, name), qiao.QiaoError)
    assert issubclass(VectorDBError, qiao.QiaoError)
