"""MG-TFNO: multigrid patching round trips, agreement with neuraloperator, resolution errors, conformance."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch

from sciml.errors import ShapeError
from sciml.operators import MultigridPatchedOperator, mgtfno, multigrid_valid_size, to_precision
from sciml.operators.multigrid import _patch_axis_1d
from sciml.registry import MODELS
from sciml.training.checkpoint import model_state_dict
from sciml.training.objectives import Supervised

SMALL = {1: dict(n_modes=(4,), hidden_channels=8, n_layers=2), 2: dict(n_modes=(4, 4), hidden_channels=8, n_layers=2)}


def _patcher(levels: int, n_dim: int, padding_fraction: float, channels: int = 3) -> MultigridPatchedOperator:
    return MultigridPatchedOperator(
        torch.nn.Identity(), in_channels=channels, n_dim=n_dim, levels=levels, padding_fraction=padding_fraction
    )


@pytest.mark.parametrize("levels", [0, 1, 2])
@pytest.mark.parametrize("padding_fraction", [0.0, 0.0625, 0.125])
@pytest.mark.parametrize("shape", [(32, 32), (64, 48), (64,), (96,)])
def test_patch_then_stitch_is_exact(levels, padding_fraction, shape):
    n_dim = len(shape)
    patcher = _patcher(levels, n_dim, padding_fraction)
    x = torch.randn(2, 3, *shape, dtype=torch.float64)
    patches = patcher.patch(x)
    n = 2**levels
    pads = [round(s * padding_fraction) for s in shape] if levels else [0] * n_dim
    assert patches.shape == (2 * n**n_dim, 3 * (levels + 1), *(s // n + 2 * p for s, p in zip(shape, pads)))
    # the first C channels are the (padded) patches themselves: cropping and stitching gives x back
    assert torch.equal(patcher.stitch(patches[:, :3], shape), x)


def test_identity_model_round_trip_through_forward():
    model = _patcher(2, 2, 0.0625, channels=1)
    model.operator = _FirstChannels(1)
    x = torch.randn(3, 1, 64, 64)
    assert torch.equal(model(x), x)


class _FirstChannels(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x[:, : self.c]


def test_2d_patches_are_neuraloperators():
    from neuralop.training.patching import MultigridPatching2D
    from torch import nn

    x = torch.randn(2, 2, 64, 64)
    with contextlib.redirect_stdout(io.StringIO()):
        reference = MultigridPatching2D(nn.Identity(), levels=2, padding_fraction=0.0625)
    expected, _ = reference.patch(x, x)
    assert torch.equal(_patcher(2, 2, 0.0625, channels=2).patch(x), expected)
    # neuraloperator's "C + levels" input channels hold for one channel: C * (levels + 1) in general
    assert expected.shape[1] == 2 * 3


def test_1d_construction_is_the_per_axis_factor_of_the_2d_one():
    """For a separable field f(x) g(y), each 2-D multigrid channel of patch (i, j) is the outer
    product of the 1-D patches i of f and j of g at the same level: the 1-D patching is the 2-D
    construction of neuraloperator restricted to one axis."""
    levels, size, pad = 2, 48, 3
    f, g = torch.randn(size, dtype=torch.float64), torch.randn(size, dtype=torch.float64)
    patches_2d = _patcher(levels, 2, pad / size, channels=1).patch((f[:, None] * g[None, :])[None, None])
    pf, pg = _patch_axis_1d(f[None, None], levels, pad), _patch_axis_1d(g[None, None], levels, pad)
    n = 2**levels
    for i in range(n):
        for j in range(n):
            for level in range(levels + 1):
                expected = pf[i, level][:, None] * pg[j, level][None, :]
                torch.testing.assert_close(patches_2d[i * n + j, level], expected, rtol=0, atol=1e-12)


def test_valid_sizes_match_what_neuraloperator_accepts():
    from neuralop.training.patching import MultigridPatching2D
    from torch import nn

    for levels in (1, 2):
        for size in range(4, 72, 2):
            with contextlib.redirect_stdout(io.StringIO()):
                reference = MultigridPatching2D(nn.Identity(), levels=levels, padding_fraction=0.0625)
            try:
                reference.patch(torch.zeros(1, 1, size, size), None)
                accepted = True
            except (RuntimeError, AssertionError):
                accepted = False
            assert multigrid_valid_size(size, levels, 0.0625) == accepted, (levels, size)


def test_level_that_does_not_divide_the_resolution_raises_one_line_shape_error():
    model = mgtfno(in_channels=1, out_channels=1, levels=2, **SMALL[2])
    with pytest.raises(ShapeError) as info:
        model(torch.randn(1, 1, 64, 30))
    message = str(info.value)
    assert "\n" not in message
    assert "levels=2 cannot split resolution 30 of axis Y (spatial shape [64, 30])" in message
    assert message.endswith("use a resolution such as 32 (multiples of 16 always work) or fewer levels")
    with pytest.raises(ShapeError, match="levels=1 cannot split resolution 33 of axis X .* such as 32 or 34"):
        mgtfno(in_channels=1, out_channels=1, levels=1, **SMALL[1])(torch.randn(1, 1, 33))


@pytest.mark.parametrize("n_dim", [1, 2])
def test_mgtfno_conformance_forward_backward_and_checkpoint(n_dim, tmp_path):
    assert MODELS.get("mgtfno") is mgtfno
    shape = (32,) * n_dim
    torch.manual_seed(0)
    model = mgtfno(in_channels=2, out_channels=3, levels=1, **SMALL[n_dim]).train()
    assert model.operator.sciml_spec["in_channels"] == (2 + n_dim) * 2  # fields and global coordinates, 2 levels
    assert model.sciml_spec["levels"] == 1 and model.sciml_spec["compression_ratio"] > 1
    x, y = torch.randn(3, 2, *shape), torch.randn(3, 3, *shape)
    out = Supervised()(model, {"x": x, "y": y})
    out["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    torch.optim.Adam(model.parameters(), lr=1e-2).step()
    model.eval()
    with torch.no_grad():
        expected = model(x)
    assert expected.shape == y.shape
    torch.save(model_state_dict(model), tmp_path / "m.pt")
    torch.manual_seed(1)
    rebuilt = mgtfno(in_channels=2, out_channels=3, levels=1, **SMALL[n_dim]).eval()
    rebuilt.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    with torch.no_grad():
        assert torch.equal(rebuilt(x), expected)
    # chunked patches give the same output; float64 move works
    rebuilt.max_patches_per_forward = 1
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), expected, rtol=1e-5, atol=1e-6)
        to_precision(rebuilt, torch.float64)
        assert rebuilt(x.double()).dtype == torch.float64


def test_mgtfno_wrong_channels_and_dimensionality():
    model = mgtfno(in_channels=2, out_channels=1, levels=1, **SMALL[2])
    with pytest.raises(ShapeError, match=r"has in_channels=2 but x .* has 5 channels.*set in_channels=5"):
        model(torch.randn(1, 5, 32, 32))
    with pytest.raises(ShapeError, match=r"is 2-D .* \(3-D fields\)"):
        model(torch.randn(1, 2, 32, 32, 8))
