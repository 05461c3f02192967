"""User-facing messages in Chinese (zh-CN) and English.

The language comes from, in order: an explicit choice (``--lang``), the
``QIAO_LANG`` variable, the ``lang`` setting, then the locale (``LC_ALL``,
``LC_MESSAGES``, ``LANG``): any ``zh*`` locale selects Chinese, anything else
English.
"""

from __future__ import annotations

import os

from qiao.errors import InvalidInputError

__all__ = ["MESSAGES", "detect_language", "set_language", "get_language", "translate"]

LANGUAGES = ("zh", "en")

_current = ""


def detect_language(explicit: str | None = None) -> str:
    """Return ``"zh"`` or ``"en"`` from an explicit choice, the environment or the locale."""
    for candidate in (explicit, os.environ.get("QIAO_LANG")):
        if candidate:
            return _normalize(candidate)
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def _normalize(value: str) -> str:
    lowered = value.strip().lower()
    if lowered.startswith("zh") or lowered in ("cn", "chinese", "中文"):
        return "zh"
    if lowered.startswith("en") or lowered == "english":
        return "en"
    raise InvalidInputError(
        f"unknown language {value!r}; use zh or en", key="bad_lang", value=value
    )


def set_language(lang: str) -> None:
    global _current
    _current = _normalize(lang)


def get_language() -> str:
    if _current:
        return _current
    try:
        return detect_language()
    except InvalidInputError:
        # An invalid QIAO_LANG must not stop the error about it from being printed.
        return "en"


def translate(key: str, **params: object) -> str:
    """Return the message ``key`` in the current language, filled with ``params``."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    template = entry[get_language()]
    return template.format(**params) if params else template


# key -> {"zh": ..., "en": ...}
MESSAGES: dict[str, dict[str, str]] = {}


def _add(key: str, zh: str, en: str) -> None:
    MESSAGES[key] = {"zh": zh, "en": en}


# General.
_add("error", "错误：{message}", "Error: {message}")
_add(
    "no_answer", "知识库中没有找到相关内容。", "The knowledge base has no answer to this question."
)
_add("interrupted", "已中断。", "Interrupted.")
_add(
    "bad_lang",
    "未知的语言 {value!r}：请使用 zh 或 en。",
    "Unknown language {value!r}; use zh or en.",
)

# Knowledge bases.
_add("kb_created", "已创建知识库 {name}。", "Created knowledge base {name}.")
_add("kb_deleted", "已删除知识库 {name}。", "Deleted knowledge base {name}.")
_add(
    "kb_none",
    "还没有知识库。用 qiao kb create 名称 创建一个。",
    "No knowledge bases yet. Create one with: qiao kb create NAME",
)
_add(
    "kb_confirm_delete",
    "确定删除知识库 {name} 及其全部内容吗？",
    "Delete knowledge base {name} and everything in it?",
)
_add(
    "kb_not_found",
    "找不到知识库 {name}（现有：{known}）。请先运行 qiao kb create {name} 创建。",
    "Knowledge base {name} not found (existing: {known}). Create it with: qiao kb create {name}",
)
_add(
    "kb_exists",
    "知识库 {name} 已存在。请换一个名称，或先删除它。",
    "Knowledge base {name} already exists. Choose another name or delete it first.",
)
_add(
    "kb_bad_name",
    "知识库名称 {name!r} 无效：请使用 1–64 个字母、数字、“_”或“-”，并以字母或数字开头。",
    "Invalid knowledge base name {name!r}: use 1-64 letters, digits, '_' or '-', starting with a letter or digit.",
)
_add(
    "kb_added",
    "知识库 {name}：新增 {added} 个文件，更新 {replaced} 个，未变 {unchanged} 个，失败 {failed} 个；"
    "写入 {chunks} 个片段（共 {total} 个），用时 {seconds:.1f} 秒，其中向量化占 {share:.0f}%。",
    "Knowledge base {name}: {added} files added, {replaced} replaced, {unchanged} unchanged, "
    "{failed} failed; {chunks} chunks written ({total} in total) in {seconds:.1f} s, "
    "{share:.0f}% of it embedding.",
)
_add(
    "vectordb.locked",
    "知识库数据 {path} 已被另一个正在写入的进程锁定。请等它结束（或停止它）后重试；提问和搜索不受影响。",
    "Knowledge base data {path} is locked by another process that is writing to it. Wait until it finishes (or stop it) and try again; ask and search still work meanwhile.",
)
_add("file_skipped", "已跳过 {path}：{message}", "Skipped {path}: {message}")
_add("embedding", "向量化", "Embedding")
_add(
    "path_not_found",
    "找不到路径 {path}，请检查文件或文件夹名称。",
    "Path {path} not found; check the file or folder name.",
)

# Columns.
_add("col_name", "名称", "Name")
_add("col_files", "文件", "Files")
_add("col_documents", "文档", "Documents")
_add("col_chunks", "片段", "Chunks")
_add("col_created", "创建时间", "Created")
_add("col_metric", "指标", "Metric")
_add("col_value", "数值", "Value")

# Questions and answers.
_add("thinking", "正在检索并生成回答…", "Retrieving and answering…")
_add("sources", "来源：", "Sources:")
_add("question", "问：", "Q:")
_add("answer", "答：", "A:")
_add("no_hits", "没有检索到结果。", "No results.")
_add("query_empty", "问题为空，请输入问题。", "The question is empty; type a question.")
_add(
    "query_too_long",
    "问题长 {length} 个字符，超过上限 {maximum}。请只保留问题本身。",
    "The question is {length} characters long; the maximum is {maximum}. Shorten it to the question itself.",
)
_add("evaluating", "评测中", "Evaluating")
_add(
    "bad_top_k",
    "top-k 的值 {value} 无效：至少为 1。",
    "Invalid top-k value {value}; it must be at least 1.",
)
_add(
    "bad_k",
    "--k 的值 {value!r} 无效：请给出以逗号分隔的正整数，例如 1,5,10。",
    "Invalid --k value {value!r}; give positive integers separated by commas, e.g. 1,5,10.",
)

# Demo.
_add(
    "demo_ingested",
    "已导入 {folder}：新增或更新 {added} 个文件，未变 {unchanged} 个，共 {total} 个片段。",
    "Ingested {folder}: {added} files added or replaced, {unchanged} unchanged, {total} chunks in total.",
)
_add("demo_generator", "回答生成方式：{generator}", "Answers generated by: {generator}")
_add(
    "demo_next",
    '试试：qiao ask {name} "故宫几点开门？"    或：qiao search {name} "颐和园" --json',
    'Try: qiao ask {name} "故宫几点开门？"    or: qiao search {name} "颐和园" --json',
)
_add(
    "demo_missing",
    "找不到示例文件夹 examples/beijing-travel。请在 Qiao 源码目录中运行，或用 --path 指定文件夹。",
    "The example folder examples/beijing-travel was not found. Run the demo from the Qiao source checkout or pass --path.",
)
_add(
    "generation_off",
    '生成模型未开启：以上回答摘录自检索到的段落。开启生成：pip install -e ".[llm]"，或设置 QIAO_GENERATOR=openai 及 QIAO_LLM_BASE_URL、QIAO_LLM_MODEL。',
    'Generation is off: the answer above quotes the retrieved passages. To turn it on: pip install -e ".[llm]", or set QIAO_GENERATOR=openai with QIAO_LLM_BASE_URL and QIAO_LLM_MODEL.',
)
_add(
    "kb_empty",
    "知识库 {name} 还是空的。请先用 qiao kb add {name} 路径 导入文档。",
    "Knowledge base {name} is empty. Add documents with: qiao kb add {name} PATH",
)
_add("damaged", "已损坏", "damaged")
_add(
    "os_error",
    "文件系统错误：{message}。请检查该路径是否存在、是否可写、磁盘是否已满。",
    "File system error: {message}. Check that the path exists, is writable and that the disk is not full.",
)
_add(
    "kb_damaged",
    "无法读取 {file}：{detail}。请恢复该文件，或用 qiao kb delete {name} 删除知识库后重新创建。",
    "Cannot read {file}: {detail}. Restore the file, or delete the knowledge base with qiao kb delete {name} and create it again.",
)
_add(
    "files_damaged",
    "无法读取 {file}：{detail}。请删除该文件后重新运行 qiao kb add（未改动的文件会重新向量化一次）。",
    "Cannot read {file}: {detail}. Delete the file and run qiao kb add again (unchanged files are then re-embedded once).",
)
_add(
    "kb_removed",
    "已从知识库 {name} 移除 {files} 个文件，剩余 {total} 个片段。",
    "Removed {files} files from knowledge base {name}; {total} chunks remain.",
)
_add(
    "kb_file_not_found",
    "知识库 {name} 中没有位于 {path} 的文件。可用 qiao kb show {name} --json 查看已导入的文件。",
    "Knowledge base {name} has no file at {path}. List its files with: qiao kb show {name} --json",
)

# Model workshop: data preparation and mixing.
_add("ws_preparing", "处理数据行", "Preparing rows")
_add(
    "ws_prepared",
    "已写入 {out}：训练集 {train} 行，评测集 {eval} 行（输入 {rows_in} 行）。报告：{report}",
    "Wrote {out}: {train} train rows, {eval} eval rows (from {rows_in} input rows). Report: {report}",
)
_add(
    "ws_invalid_rows",
    "跳过了 {count} 个不符合格式的行，例如 {source}：{reason}",
    "Skipped {count} rows that do not fit their format, e.g. {source}: {reason}",
)
_add("ws_rows_in", "输入行数", "Rows in")
_add("ws_rows_out", "输出行数", "Rows out")
_add("ws_train", "训练集", "Train")
_add("ws_eval", "评测集", "Eval")
_add("ws_invalid", "无效行", "Invalid rows")
_add("ws_duplicates_exact", "完全重复", "Exact duplicates")
_add("ws_duplicates_near", "近似重复", "Near duplicates")
_add("ws_dropped_short", "过短丢弃", "Dropped as too short")
_add("ws_dropped_long", "过长丢弃", "Dropped as too long")
_add("ws_scrubbed", "已脱敏：{kind}", "Scrubbed: {kind}")
_add("ws_token_counter", "词元计数", "Token count")
_add("ws_col_file", "文件", "File")
_add("ws_col_format", "格式", "Format")
_add(
    "ws_mixed",
    "已写入 {out}：{rows} 行，通用 {general} 行（{general_share:.2f}%），领域 {domain} 行（{domain_share:.2f}%）。",
    "Wrote {out}: {rows} rows, {general} general ({general_share:.2f}%), {domain} domain ({domain_share:.2f}%).",
)
_add("ws_source_general", "通用", "general")
_add("ws_source_domain", "领域", "domain")
_add(
    "ws_repeated",
    "警告：{source} 数据只有 {available} 行，但需要 {needed} 行，因此有放回抽样：每行使用 {low}–{high} 次。",
    "Warning: the {source} data has {available} rows but {needed} are needed, so rows are sampled with replacement: each is used {low}-{high} times.",
)
_add(
    "workshop_ratio_format",
    "--ratio 的值 {value!r} 无效：请给出“通用:领域”两个百分数，二者之和为 100，例如 70:30。",
    "Invalid --ratio {value!r}: give general:domain percentages that add up to 100, e.g. 70:30.",
)
_add(
    "workshop_ratio_negative",
    "--ratio 的值 {value!r} 含有负数：两个比例都须在 0 到 100 之间，例如 70:30。",
    "Invalid --ratio {value!r}: a share is negative; both must be 0 to 100, e.g. 70:30.",
)
_add(
    "workshop_ratio_sum",
    "--ratio 的值 {value!r} 之和为 {total}，不是 100。例如 {fix}。",
    "Invalid --ratio {value!r}: the shares add up to {total}, not 100; e.g. {fix}.",
)
_add(
    "ws_med_written",
    "已写入 {count} 个问答对到 {out}（已排除开发集问题对应的条目）。",
    "Wrote {count} question/answer pairs to {out} (entries behind the dev questions left out).",
)
_add(
    "ws_no_data_dir",
    "没有指定数据文件夹：请使用 --data-dir，或设置环境变量 QIAO_DATA_DIR。",
    "No data folder given: pass --data-dir or set QIAO_DATA_DIR.",
)
# qiao vectordb serve.
_add(
    "vectordb_serving",
    "向量数据库 {path} 已启动，Vearch REST API 地址：{url}（用户 root）。按 Ctrl+C 停止。",
    "Serving vector database {path} with Vearch's REST API at {url} (user root). Press Ctrl+C to stop.",
)
_add(
    "vectordb_master",
    "Vearch master 接口地址：{url}",
    "Vearch master routes at {url}",
)
_add(
    "vectordb_no_auth",
    "警告：已关闭身份验证，任何能访问该端口的人都可以读写数据。",
    "Warning: authentication is off; anyone who can reach the port can read and change the data.",
)
_add(
    "vectordb_stopped",
    "向量数据库服务已停止，数据已保存。",
    "The vector database server stopped and the data is saved.",
)
_add(
    "vectordb.serve_locked",
    "向量数据库 {path} 正被另一个进程（{pid}）写入，例如另一个 qiao vectordb serve。请先停止它，或用 --data 指定另一个文件夹。",
    "The vector database {path} is locked by another process ({pid}) that writes to it, such as another qiao vectordb serve. Stop it first, or pass --data with another folder.",
)

# Gateway and API keys.
_add("serve_loading", "正在加载模型…", "Loading models…")
_add(
    "serve_started",
    "OpenAI 兼容接口：{url}（模型：{models}）。按 Ctrl+C 停止。",
    "OpenAI-compatible API at {url} (models: {models}). Press Ctrl+C to stop.",
)
_add(
    "serve_auth_on",
    "需要 API 密钥：请求须带 Authorization: Bearer 密钥（用 qiao keys create 名称 创建）。",
    "API keys required: send Authorization: Bearer KEY (create one with: qiao keys create NAME).",
)
_add(
    "serve_auth_off",
    "未开启 API 密钥：仅监听本机地址时默认如此；用 --auth 开启。",
    "API keys not required (the default on a loopback address); turn them on with --auth.",
)
_add(
    "serve_vectordb",
    "向量数据库 {path} 的 Vearch REST API 地址：{url}（HTTP Basic 认证，用户 root）。",
    "Vearch REST API of vector database {path} at {url} (HTTP Basic auth, user root).",
)
_add(
    "serve_vectordb_default_password",
    "警告：向量数据库接口在 {host} 上接受用户 root 的 Vearch 默认密码“secret”。"
    "请设置环境变量 QIAO_VECTORDB_ROOT_PASSWORD，或用 --no-vectordb 关闭该接口。",
    "Warning: the vector database API accepts user root with Vearch's default password "
    "'secret' on {host}. Set QIAO_VECTORDB_ROOT_PASSWORD, or turn the API off with --no-vectordb.",
)
_add(
    "serve.vectordb_locked",
    "向量数据库 {path} 正被另一个进程（{pid}）写入，例如 qiao vectordb serve 或另一个 qiao serve。"
    "请先停止它，或用 --vectordb-data 指定另一个文件夹，或用 --no-vectordb 不提供向量数据库接口。",
    "The vector database {path} is locked by another process ({pid}) that writes to it, such as "
    "qiao vectordb serve or another qiao serve. Stop it first, pass --vectordb-data with another "
    "folder, or pass --no-vectordb to serve without the vector database API.",
)
_add("serve_stopped", "服务已停止。", "Server stopped.")
_add(
    "serve_bind_failed",
    "无法监听 {host}:{port}：{detail}。请停止占用该端口的程序，或用 --port 换一个端口。",
    "Cannot listen on {host}:{port}: {detail}. Stop the program that uses the port or choose another with --port.",
)
_add("key_created", "已创建 API 密钥 {id}（{name}）：", "Created API key {id} ({name}):")
_add(
    "key_shown_once",
    "密钥只显示这一次，请立即保存；Qiao 只保存它的哈希值。",
    "The key is shown only this once; store it now. Qiao keeps only its hash.",
)
_add(
    "key_none",
    "还没有 API 密钥。用 qiao keys create 名称 创建一个。",
    "No API keys yet. Create one with: qiao keys create NAME",
)
_add("key_no_limits", "全部模型", "all models")
_add("key_active", "有效", "active")
_add("key_revoked", "已于 {time} 吊销", "revoked {time}")
_add(
    "key_revoked_now",
    "已吊销 API 密钥 {id}（{name}），正在运行的服务从下一个请求起拒绝它。",
    "Revoked API key {id} ({name}); a running server rejects it from the next request on.",
)
_add("col_limits", "可用范围", "Limits")
_add("col_status", "状态", "Status")
