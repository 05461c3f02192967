"""A tiny random Qwen2 model with a character tokenizer, and small evaluation sets on disk.

The model is built from a config (2 layers, hidden size 32), so tests need no
download and no model file; the tokenizer maps every character to one token,
has the ChatML template of Qwen models and treats ``<|im_end|>`` as the end
of a turn.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from qiao.workshop.evaluate.prompts import ANSWER_PREFIX

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]

# Questions with answer keys A, A, A, B, B, C, D, D: 3 of 8 are A, 2 are B.
CHOICE_ROWS = [
    ("血压的正常收缩压上限约为", ["120", "140", "160", "180"], "A"),
    ("成人正常体温约为", ["37度", "39度", "41度", "35度"], "A"),
    ("胰岛素由哪个器官分泌", ["胰腺", "肝脏", "肾脏", "脾脏"], "A"),
    ("缺乏维生素C会引起", ["夜盲症", "坏血病", "佝偻病", "脚气病"], "B"),
    ("红细胞的主要功能是", ["免疫", "运输氧气", "凝血", "消化"], "B"),
    ("人体最大的器官是", ["心脏", "肝脏", "皮肤", "大脑"], "C"),
    ("正常成人心率每分钟约", ["20次", "200次", "150次", "75次"], "D"),
    ("糖尿病患者应少吃", ["蔬菜", "清水", "粗粮", "甜食"], "D"),
]
OPEN_ROWS = [
    ("高血压患者能吃党参吗", "可以适量食用党参，注意监测血压。"),
    ("感冒发烧怎么办", "多喝水，注意休息，体温过高时服用退烧药。"),
    ("胃痛吃什么药好", "先明确病因，可在医生指导下服用护胃药。"),
]
PROMPT_TEXT = (
    "以下是关于临床知识的单项选择题，请直接给出正确答案的选项。题目答案是：" + ANSWER_PREFIX
)


def choice_row(index: int, question: str, options: list[str], answer: str) -> dict:
    return {
        "id": f"test/{index}",
        "subject": "clinical_knowledge",
        "subject_zh": "临床知识",
        "question": question,
        "choices": dict(zip("ABCD", options, strict=True)),
        "answer": answer,
    }


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def write_eval_data(root: Path) -> Path:
    """Write domain_eval, general_eval and med_dialogue_neike sets under ``root``."""
    choices = [choice_row(i, *row) for i, row in enumerate(CHOICE_ROWS)]
    for name in ("domain_eval", "general_eval"):
        write_rows(root / name / "test.jsonl", choices)
        write_rows(root / name / "dev_fewshot.jsonl", choices[:2])
    open_rows = [
        {"id": f"q{i}", "question": q, "answer": a, "gold_doc_id": f"doc{i}"}
        for i, (q, a) in enumerate(OPEN_ROWS)
    ]
    write_rows(root / "med_dialogue_neike" / "qa_dev.jsonl", open_rows)
    return root


def character_tokenizer(extra_text: str = "") -> object:
    """Return a transformers fast tokenizer with one token per character."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    text = string.printable + PROMPT_TEXT + extra_text + "user assistant system"
    for question, options, _ in CHOICE_ROWS:
        text += question + "".join(options)
    for question, answer in OPEN_ROWS:
        text += question + answer
    characters = sorted(set(text))
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + characters)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens(SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def save_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Save a random 2-layer Qwen2 model and its character tokenizer into ``folder``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = character_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def bias_towards(model: object, token_id: int) -> None:
    """Give ``model`` an output bias that makes ``token_id`` win every next-token choice."""
    import torch

    head = model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[token_id] = 1e4
    model.lm_head = biased
