"""The fusion model's identity guarantees: zero gates, masked modalities, FiLM at init."""

from __future__ import annotations

import pytest
import torch

from fusion.model import FiLM, FusionConfig, FusionModel, ModalityConfig, ModelInputs

MODS = (ModalityConfig("face", "video", 3, (("tokens", (4, 8)),)),
        ModalityConfig("voice", "audio", 6, (("frames", (5,)),)),
        ModalityConfig("ecg", "ecg", 4, (("beats", (16,)), ("feats", (3,)))))
B = 3


def make_model(fusion: str = "gated-xattn", tokenizer: str = "conv", **kw) -> FusionModel:
    torch.manual_seed(0)
    cfg = FusionConfig(fusion=fusion, eeg_tokenizer=tokenizer, d_model=32, n_heads=4, **kw)
    inp = ModelInputs(n_channels=4, n_samples=128, sfreq=32, n_outputs=2, modalities=MODS, n_covariates=2,
                      teacher_dim=6)
    return FusionModel(cfg, inp).eval()


def inputs(seed: int = 0) -> tuple[torch.Tensor, dict, dict, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = {"face": {"tokens": torch.randn(B, 3, 4, 8, generator=g)},
         "voice": {"frames": torch.randn(B, 6, 5, generator=g)},
         "ecg": {"beats": torch.randn(B, 4, 16, generator=g), "feats": torch.randn(B, 4, 3, generator=g)}}
    m = {"face": torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1]], dtype=torch.bool),
         "voice": torch.rand(B, 6, generator=g) > 0.3, "ecg": torch.ones(B, 4, dtype=torch.bool)}
    m["voice"][:, 0] = True
    return torch.randn(B, 4, 128, generator=g), x, m, torch.randn(B, 2, generator=g)


def set_gates(model: FusionModel, value: float) -> None:
    for layer in model.xattn:
        for g in layer.values():
            g.attn_gate.data.fill_(value)
            g.ff_gate.data.fill_(value)


@pytest.mark.parametrize("tokenizer", ["conv", "patch"])
def test_zero_gates_equal_all_modalities_masked(tokenizer: str) -> None:
    model = make_model(tokenizer=tokenizer)
    eeg, x, m, cov = inputs()
    with torch.no_grad():
        full = model(eeg, x, m, cov)["logits"]
        masked = model(eeg, x, {k: torch.zeros_like(v) for k, v in m.items()}, cov)["logits"]
        eeg_only = model(eeg, {}, {}, cov)["logits"]
    assert torch.equal(full, masked)
    assert torch.equal(full, eeg_only)


@pytest.mark.parametrize("name", ["face", "voice", "ecg"])
def test_fully_masked_modality_changes_nothing(name: str) -> None:
    model = make_model()
    set_gates(model, 0.7)  # gates open: the modality would matter if it were available
    eeg, x, m, cov = inputs()
    m_off = dict(m)
    m_off[name] = torch.zeros_like(m[name])
    x_garbage = dict(x)
    x_garbage[name] = {k: torch.randn_like(v) * 100 for k, v in x[name].items()}
    x_absent = {k: v for k, v in x.items() if k != name}
    m_absent = {k: v for k, v in m_off.items() if k != name}
    with torch.no_grad():
        a = model(eeg, x, m_off, cov)["logits"]
        b = model(eeg, x_garbage, m_off, cov)["logits"]
        c = model(eeg, x_absent, m_absent, cov)["logits"]
        d = model(eeg, x, m, cov)["logits"]
    assert torch.equal(a, b) and torch.equal(a, c)
    assert not torch.allclose(a, d)  # ...and available, it does change the output


def test_masked_modality_per_sample_only_affects_that_sample() -> None:
    model = make_model()
    set_gates(model, 0.5)
    eeg, x, m, cov = inputs()
    m2 = dict(m)
    m2["face"] = m["face"].clone()
    m2["face"][1] = False
    with torch.no_grad():
        a, b = model(eeg, x, m, cov)["logits"], model(eeg, x, m2, cov)["logits"]
    assert torch.equal(a[[0, 2]], b[[0, 2]]) and not torch.equal(a[1], b[1])


@pytest.mark.parametrize("fusion", ["late", "prefix"])
def test_other_fusions_ignore_masked_modality(fusion: str) -> None:
    model = make_model(fusion=fusion)
    eeg, x, m, cov = inputs()
    m_off = {**m, "face": torch.zeros_like(m["face"])}
    x_garbage = {**x, "face": {"tokens": torch.randn_like(x["face"]["tokens"]) * 100}}
    with torch.no_grad():
        a, b = model(eeg, x, m_off, cov)["logits"], model(eeg, x_garbage, m_off, cov)["logits"]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_film_is_identity_at_init() -> None:
    film = FiLM(3, 16)
    x = torch.randn(2, 5, 16)
    assert torch.equal(film(x, torch.randn(2, 3)), x)
    model = make_model()
    eeg, x_in, m, cov = inputs()
    with torch.no_grad():
        assert torch.equal(model(eeg, x_in, m, cov)["logits"], model(eeg, x_in, m, cov * 50 + 3)["logits"])


def test_eeg_only_and_grad_checkpoint_run_backward() -> None:
    for fusion in ("eeg-only", "gated-xattn"):
        model = make_model(fusion=fusion, grad_checkpoint=True).train()
        eeg, x, m, cov = inputs()
        out = model(eeg, x, m, cov)
        (out["logits"].sum() + out["teacher_pred"].sum()).backward()
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    assert make_model().gate_values()["layer0/face/attn"] == 0.0


def test_latent_compression_keeps_masking_exact() -> None:
    model = make_model(latents=2)
    set_gates(model, 0.6)
    eeg, x, m, cov = inputs()
    m_off = {**m, "voice": torch.zeros_like(m["voice"])}
    x_garbage = {**x, "voice": {"frames": torch.randn_like(x["voice"]["frames"]) * 100}}
    with torch.no_grad():
        assert torch.equal(model(eeg, x, m_off, cov)["logits"], model(eeg, x_garbage, m_off, cov)["logits"])
