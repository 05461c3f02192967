from pathlib import Path
from types import SimpleNamespace

from qiao.llm.cpu_features import cpu_has_amx, without_extra_buffers


def test_cpu_has_amx_reads_flags(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 amx_bf16 amx_tile amx_int8\n")
    assert cpu_has_amx(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert not cpu_has_amx(cpuinfo)
    assert not cpu_has_amx(tmp_path / "missing")


def test_without_extra_buffers_restores_default():
    module = SimpleNamespace()
    module.llama_model_default_params = lambda: SimpleNamespace(use_extra_bufts=True)
    original = module.llama_model_default_params
    with without_extra_buffers(module):
        assert module.llama_model_default_params().use_extra_bufts is False
    assert module.llama_model_default_params is original
    assert module.llama_model_default_params().use_extra_bufts is True
