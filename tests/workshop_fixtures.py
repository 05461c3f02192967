"""Small training-data files for the workshop tests, written to a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

# GB 11643-1999 publishes 11010519491231002X as its example of a valid number.
VALID_ID = "11010519491231002X"
VALID_CARD_16 = "4111111111111111"


def id_check_char(first17: str) -> str:
    """Compute the MOD 11-2 check character, written out independently of qiao."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def luhn_check_digit(body: str) -> str:
    """Compute the digit that makes ``body + digit`` pass the Luhn checksum."""
    for candidate in "0123456789":
        digits = [int(char) for char in body + candidate]
        total = sum(digits[-1::-2]) + sum(sum(divmod(2 * digit, 10)) for digit in digits[-2::-2])
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def conversation(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


# Distinct health questions and answers, long enough that their shingle sets barely overlap.
HEALTH_PAIRS = [
    ("高血压患者每天应该吃多少盐？", "建议每天食盐不超过5克，少吃咸菜和加工肉制品，多吃蔬菜。"),
    ("糖尿病人可以吃西瓜吗？", "血糖控制平稳时可以少量吃，最好放在两餐之间，每次不超过200克。"),
    ("感冒发烧38度需要吃退烧药吗？", "体温低于38.5度时一般先物理降温，多喝水休息，高烧要就医。"),
    ("胃溃疡平时饮食要注意什么？", "定时定量进餐，避免辛辣、浓茶、咖啡和酒，按医嘱服用抑酸药。"),
    ("失眠多梦怎么调理？", "保持规律作息，睡前不看手机，下午不喝咖啡，长期失眠可到睡眠门诊检查。"),
    ("脂肪肝能治好吗？", "早期脂肪肝通过减重、控制饮食和规律运动大多可以逆转，需定期复查。"),
]
