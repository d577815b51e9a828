"""The swap models: the classic design layer by layer, FLOPs, the swap contract, the GEMM conv path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from masque.models import MODELS, SwapModel
from masque.models.gemm import enable_gemm, gemm_conv2d


@pytest.fixture(scope="module")
def original() -> SwapModel:
    torch.manual_seed(0)
    return MODELS.create("original")


def _trace(model: SwapModel, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(module type, output shape) of every conv, linear and pixel shuffle, in call order."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((type(m).__name__, tuple(o.shape))))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.PixelShuffle))]
    with torch.no_grad():
        model(x, "a")
    for h in hooks:
        h.remove()
    return seen


def test_registry_has_the_three_models() -> None:
    assert MODELS.names() == ["hires", "lightweight", "original"]
    assert [MODELS.create(n).input_size for n in MODELS.names()] == [128, 64, 64]


def test_original_layers_are_the_classic_design(original: SwapModel) -> None:
    convs = [m for m in original.encoder.convs.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (128, (5, 5), (2, 2)), (256, (5, 5), (2, 2)), (512, (5, 5), (2, 2)), (1024, (5, 5), (2, 2))]
    acts = [m for m in original.encoder.convs.modules() if isinstance(m, nn.LeakyReLU)]
    assert [a.negative_slope for a in acts] == [0.1] * 4
    assert (original.encoder.dense1.in_features, original.encoder.dense1.out_features) == (4 * 4 * 1024, 1024)
    assert original.encoder.dense2.out_features == 4 * 4 * 1024
    trace = _trace(original, torch.rand(2, 3, 64, 64))
    assert trace == [
        ("Conv2d", (2, 128, 32, 32)), ("Conv2d", (2, 256, 16, 16)), ("Conv2d", (2, 512, 8, 8)),
        ("Conv2d", (2, 1024, 4, 4)), ("Linear", (2, 1024)), ("Linear", (2, 16384)),
        ("Conv2d", (2, 2048, 4, 4)), ("PixelShuffle", (2, 512, 8, 8)),  # encoder's upscale(512)
        ("Conv2d", (2, 1024, 8, 8)), ("PixelShuffle", (2, 256, 16, 16)),  # decoder upscale(256)
        ("Conv2d", (2, 512, 16, 16)), ("PixelShuffle", (2, 128, 32, 32)),  # upscale(128)
        ("Conv2d", (2, 256, 32, 32)), ("PixelShuffle", (2, 64, 64, 64)),  # upscale(64)
        ("Conv2d", (2, 3, 64, 64)), ("Conv2d", (2, 1, 64, 64)),  # 5x5 heads: RGB and mask
    ]
    upscale_convs = [m for m in original.decoders["a"].body.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.kernel_size == (3, 3) for c in upscale_convs)
    assert original.decoders["a"].rgb.kernel_size == (5, 5)


def test_original_flops_match_the_design(original: SwapModel) -> None:
    def conv(hw_out: int, cin: int, cout: int, k: int) -> int:
        return 2 * hw_out * hw_out * cout * cin * k * k

    expected = (conv(32, 3, 128, 5) + conv(16, 128, 256, 5) + conv(8, 256, 512, 5) + conv(4, 512, 1024, 5)
                + 2 * 16384 * 1024 * 2 + conv(4, 1024, 2048, 3)
                + conv(8, 512, 1024, 3) + conv(16, 256, 512, 3) + conv(32, 128, 256, 3)
                + conv(64, 64, 3, 5) + conv(64, 64, 1, 5))
    assert original.flops_per_example() == expected
    assert abs(expected / 1e9 - 3.813) < 0.001
    assert original.param_count() == sum(p.numel() for p in original.parameters())


def test_lightweight_is_much_cheaper_and_hires_is_128_with_residual_blocks() -> None:
    light, hires = MODELS.create("lightweight"), MODELS.create("hires")
    orig = MODELS.create("original")
    assert light.flops_per_example() < orig.flops_per_example() / 3
    assert hires.input_size == 128
    assert any(type(m).__name__ == "ResBlock" for m in hires.decoders["b"].modules())
    rgb, mask = hires.swap(torch.rand(1, 3, 128, 128), "a")
    assert rgb.shape == (1, 3, 128, 128) and mask.shape == (1, 1, 128, 128)


def test_swap_contract(original: SwapModel) -> None:
    original.train()
    x = torch.rand(3, 3, 64, 64, dtype=torch.float64)  # any float dtype comes in
    rgb, mask = original.swap(x, "b")
    assert original.training, "swap restores the training flag"
    assert rgb.shape == (3, 3, 64, 64) and mask.shape == (3, 1, 64, 64)
    assert rgb.dtype == mask.dtype == torch.float32 and rgb.is_contiguous()
    assert float(rgb.min()) >= 0 and float(rgb.max()) <= 1 and float(mask.min()) >= 0 and float(mask.max()) <= 1
    # the two decoders are different people: different outputs for the same code
    assert not torch.allclose(rgb, original.swap(x, "a")[0])
    with pytest.raises(ValueError, match="'a' or 'b'"):
        original.swap(x, "c")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        original.swap(torch.rand(1, 3, 32, 32), "a")


def test_channels_last_gives_the_same_output(original: SwapModel) -> None:
    x = torch.rand(2, 3, 64, 64)
    ref = original.swap(x, "a")[0]
    cl = MODELS.create("original")
    cl.load_state_dict(original.state_dict())
    cl = cl.to(memory_format=torch.channels_last)
    got = cl.swap(x.to(memory_format=torch.channels_last), "a")[0]
    assert torch.allclose(ref, got, atol=1e-5)


@pytest.mark.parametrize(("cin", "cout", "k", "s", "hw"), [(8, 16, 3, 1, 4), (8, 16, 5, 2, 8), (4, 6, 5, 2, 9)])
def test_gemm_conv_equals_conv2d_forward_and_backward(cin: int, cout: int, k: int, s: int, hw: int) -> None:
    torch.manual_seed(1)
    x = torch.randn(3, cin, hw, hw, dtype=torch.float64).to(memory_format=torch.channels_last).requires_grad_()
    w = torch.randn(cout, cin, k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True)
    ref = F.conv2d(x, w, b, s, k // 2)
    got = gemm_conv2d(x, w, b, s, k // 2, torch.float64)
    assert got.shape == ref.shape and torch.allclose(got, ref)
    g = torch.randn_like(ref)
    want = torch.autograd.grad(ref, (x, w, b), g)
    have = torch.autograd.grad(got, (x, w, b), g)
    for a, e in zip(have, want):
        assert torch.allclose(a, e)


def test_enable_gemm_picks_the_small_output_convs(original: SwapModel) -> None:
    x = torch.zeros(1, 3, 64, 64)
    chosen = enable_gemm(original, x, run=lambda: [original(x, side) for side in "ab"])
    try:
        # outputs of 8x8 or less: conv3 (8x8), conv4 (4x4), the encoder's upscale (4x4), upscale(256) (8x8)
        assert chosen == ["encoder.convs.2.0", "encoder.convs.3.0", "encoder.up.0", "decoders.a.body.0.0",
                          "decoders.b.body.0.0"]
        # in float32 (no bf16 autocast) the flag changes nothing
        assert torch.equal(original.swap(torch.ones(1, 3, 64, 64), "a")[0],
                           original.swap(torch.ones(1, 3, 64, 64), "a")[0])
    finally:
        for m in original.modules():
            if hasattr(m, "gemm"):
                m.gemm = False


def test_inference_runs_both_decoder_heads_as_one_conv_with_the_same_result(original: SwapModel) -> None:
    x = torch.rand(2, 3, 64, 64)
    decoder, code = original.decoders["a"], original.encoder(x).detach()
    trained = decoder(code)  # gradients on: the two heads apart, as training runs them
    with torch.no_grad():
        fused = decoder(code)
    for want, got in zip(trained, fused):
        assert got.shape == want.shape
        assert torch.allclose(want, got, atol=1e-6)


@pytest.mark.parametrize("name", ["lightweight", "hires"])
def test_an_untrained_model_draws_each_face_differently(name: str) -> None:
    """The init keeps the input's trace to the output: with PyTorch's default init an untrained
    lightweight model drew every face alike (std 5e-6 across faces), and training spent its first
    ~600 steps on the mean face. Real fixture faces, aligned as training sees them."""
    import numpy as np

    from masque import assets
    from masque.face import FaceAnalyzer
    from masque.face.align import align_face
    from masque.media import read_image

    torch.manual_seed(0)
    model = MODELS.create(name).eval()
    size, analyzer, crops = model.input_size, FaceAnalyzer(), []
    for photo in ("obama.jpg", "biden.jpg", "expression_di.jpg", "single_face.jpg"):
        image = read_image(assets.fetch(photo))
        crops.append(align_face(image, analyzer.detect(image)[0].landmarks, size, "face", 0.875).image)
    x = torch.from_numpy(np.stack(crops).astype(np.float32) / 255).permute(0, 3, 1, 2)
    rgb, mask = model.swap(x, "a")
    assert rgb.std(0).mean() > 5e-4  # default init: 5e-6 (lightweight)
    assert 0.3 < float(mask.mean()) < 0.7  # the mask still starts undecided


def test_upscales_start_as_nearest_neighbour() -> None:
    """ICNR: the 4 sub-pixel channels of each PixelShuffle group start equal (no checkerboard)."""
    from masque.models.layers import Upscale

    torch.manual_seed(0)
    model = MODELS.create("lightweight")
    ups = [m for m in model.modules() if isinstance(m, Upscale)]
    assert len(ups) == 7  # the encoder's and three in each decoder
    for up in ups:
        w = up[0].weight.detach()
        groups = w.view(w.shape[0] // 4, 4, *w.shape[1:])
        assert torch.equal(groups, groups[:, :1].expand_as(groups))
        out = up(torch.randn(1, w.shape[1], 4, 4))
        assert torch.equal(out[..., 0::2, 0::2], out[..., 1::2, 1::2])
