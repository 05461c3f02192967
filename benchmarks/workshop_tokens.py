"""Compare the workshop's token estimate with the default model's tokenizer on general_zh.

Prints and stores tokens per CJK and per other character (least squares over
rows), and how many times the real token count the estimate is. Needs the
``llm`` extra (llama-cpp-python and the default Qwen2.5 GGUF model parts).

    python benchmarks/workshop_tokens.py [--rows 3000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, write_result  # noqa: E402
from qiao.llm.model_files import DEFAULT_MODEL, ensure_default_model  # noqa: E402
from qiao.workshop.data.tokens import estimate_tokens, load_token_counter  # noqa: E402

CJK = re.compile(
    r"[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--models-dir", type=Path, default=Path.home() / ".qiao" / "models")
    args = parser.parse_args()

    path = data_dir() / "general_zh" / "train.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    random.Random(0).shuffle(rows)
    texts = [
        "\n".join(part for part in (row["instruction"], row["input"], row["output"]) if part)
        for row in rows[: args.rows]
    ]

    counter = load_token_counter(ensure_default_model(args.models_dir))
    real = np.array([counter.count_text(text) for text in texts], dtype=float)
    estimated = np.array([estimate_tokens(text) for text in texts], dtype=float)
    cjk = np.array([len(CJK.findall(text)) for text in texts], dtype=float)
    other = np.array([len(text) for text in texts], dtype=float) - cjk
    per_cjk, per_other = np.linalg.lstsq(np.stack([cjk, other], axis=1), real, rcond=None)[0]

    result = {
        "data": f"general_zh/train.jsonl, {len(texts)} rows shuffled with seed 0",
        "tokenizer": DEFAULT_MODEL.filename,
        "tokens_real": int(real.sum()),
        "tokens_estimated": int(estimated.sum()),
        "estimate_over_real": round(float(estimated.sum() / real.sum()), 3),
        "rows_underestimated": int((estimated < real).sum()),
        "tokens_per_cjk_char": round(float(per_cjk), 3),
        "tokens_per_other_char": round(float(per_other), 3),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    write_result("workshop_tokens", result)


if __name__ == "__main__":
    main()
