from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config_layers import layer_config
from pipeline.errors import CacheError, ConfigError
from pipeline.extractors.eeg_extractor import EEGConfig
from pipeline.fingerprint import InputHasher, canonical_json, fingerprint, group_identity


def _ident(**cfg):
    return group_identity("eeg", "1", EEGConfig(**cfg), {}, ("numpy",))


def test_fingerprint_stable_under_key_order() -> None:
    a = {"extractor": "x", "config": {"a": 1, "b": [1, 2]}, "weights": {}}
    b = {"weights": {}, "config": {"b": [1, 2], "a": 1}, "extractor": "x"}
    assert canonical_json(a) == canonical_json(b)
    assert fingerprint(a) == fingerprint(b)


def test_fingerprint_changes_with_config_version_weights_and_libraries() -> None:
    base = _ident()
    assert fingerprint(base) == fingerprint(_ident())
    assert fingerprint(base) != fingerprint(_ident(h_freq=40.0))
    assert fingerprint(base) != fingerprint({**base, "version": "2"})
    assert fingerprint(base) != fingerprint({**base, "weights": {"sha256": "ab"}})
    assert fingerprint(base) != fingerprint({**base, "libraries": {"numpy": "0.0.1"}})


def test_unhashable_config_value_fails() -> None:
    @dataclass(frozen=True)
    class Odd:
        f: object = object()

    with pytest.raises(CacheError, match="cannot fingerprint value of type object"):
        group_identity("x", "1", Odd(), {}, ())


def test_input_hash_is_content_based(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same"); b.write_bytes(b"same")
    h = InputHasher(tmp_path / "memo.json")
    assert h.file_hash(a) == h.file_hash(b)
    h.save()
    a.write_bytes(b"diff")
    assert InputHasher(tmp_path / "memo.json").file_hash(a) != h.file_hash(b)


def test_config_layers_and_unknown_keys() -> None:
    cfg = layer_config(EEGConfig, {"h_freq": 40, "notch_hz": [50, 100]}, {"sfreq": "200"}, {"h_freq": None})
    assert (cfg.h_freq, cfg.sfreq, cfg.notch_hz) == (40.0, 200.0, (50.0, 100.0))
    with pytest.raises(ConfigError, match="unknown config key 'hfreq' for EEGConfig"):
        layer_config(EEGConfig, {"hfreq": 40})


def test_runtime_only_fields_do_not_change_the_group() -> None:
    from pipeline.video.video_config import VideoConfig

    a = group_identity("vivit", "1", VideoConfig(random_init=True, batch_size=2), {}, ())
    b = group_identity("vivit", "1", VideoConfig(random_init=True, batch_size=16, prefetch=4), {}, ())
    c = group_identity("vivit", "1", VideoConfig(random_init=True, keep_tokens=4), {}, ())
    assert fingerprint(a) == fingerprint(b) and "batch_size" not in a["config"]
    assert fingerprint(a) != fingerprint(c)


def test_video_groups_follow_the_resolved_precision_not_the_device_name(monkeypatch) -> None:
    import torch

    from pipeline.video.video_config import VideoConfig

    fp = lambda **kw: fingerprint(group_identity("vivit", "1", VideoConfig(random_init=True, **kw), {}, ()))  # noqa: E731
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu_auto, cpu_fp32 = fp(), fp(device="cpu", precision="fp32")
    assert cpu_auto == cpu_fp32  # on a CPU machine, "auto" computes in fp32
    assert VideoConfig(device="cuda:1", precision="auto").precision == "fp16"
    assert fp(device="cuda:0") == fp(device="cuda:1") == fp(device="cuda", precision="fp16")
    assert fp(device="cuda") != cpu_auto  # CUDA fp16 numbers are not the CPU fp32 numbers
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert fp() == fp(device="cuda")  # "auto" on a GPU machine is the CUDA fp16 group
    assert fp(device="cpu") == cpu_auto


def test_concurrent_memo_saves_never_fail(tmp_path: Path) -> None:
    """Two extractions sharing one cache save the hash memo at the same moment (seen in CI)."""
    import threading

    files = []
    for i in range(4):
        f = tmp_path / f"in{i}.bin"
        f.write_bytes(bytes([i]) * 100)
        files.append(f)
    memo = tmp_path / "memo.json"
    errors: list[BaseException] = []

    def save_many(seed: int) -> None:
        try:
            for round_ in range(200):
                h = InputHasher(memo)
                h.file_hash(files[(seed + round_) % 4])
                h._dirty = True  # force a write each round, as a fresh process would
                h.save()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=save_many, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(InputHasher(memo)._memo) <= {str(f.resolve()) for f in files}
    assert not list(tmp_path.glob("*.tmp"))
