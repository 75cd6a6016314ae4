"""MG-TFNO: multigrid patching round trips, padding modes, agreement with neuraloperator, resolution errors, conformance."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.objectives import Supervised
from sciml.core.registry import MODELS
from sciml.operators import MultigridPatchedOperator, mgtfno, multigrid_valid_size, to_precision
from sciml.operators.multigrid import PADDING_MODES, STITCHINGS
from sciml.training.checkpoint import model_state_dict

SMALL = {1: dict(n_modes=(4,), hidden_channels=8, n_layers=2), 2: dict(n_modes=(4, 4), hidden_channels=8, n_layers=2)}


def _patcher(
    levels: int, n_dim: int, padding_fraction: float, channels: int = 3, padding_mode: str = "circular", **options
) -> MultigridPatchedOperator:
    return MultigridPatchedOperator(
        torch.nn.Identity(),
        in_channels=channels,
        n_dim=n_dim,
        levels=levels,
        padding_fraction=padding_fraction,
        padding_mode=padding_mode,
        **options,
    )


@pytest.mark.parametrize("stitching", STITCHINGS)
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("levels", [0, 1, 2])
@pytest.mark.parametrize("padding_fraction", [0.0, 0.0625, 0.125])
@pytest.mark.parametrize("shape", [(32, 32), (64, 48), (64,), (96,)])
def test_patch_then_stitch_is_exact(levels, padding_fraction, shape, padding_mode, stitching):
    n_dim = len(shape)
    patcher = _patcher(levels, n_dim, padding_fraction, padding_mode=padding_mode, stitching=stitching)
    x = torch.randn(2, 3, *shape, dtype=torch.float64)
    patches = patcher.patch(x)
    n = 2**levels
    pads = [round(s * padding_fraction) for s in shape] if levels else [0] * n_dim
    assert patches.shape == (2 * n**n_dim, 3 * (levels + 1), *(s // n + 2 * p for s, p in zip(shape, pads)))
    # the first C channels are the (padded) patches themselves: cropping and stitching gives x back,
    # and so does blending (overlapping copies of the same value, weights summing to one)
    if stitching == "crop":
        assert torch.equal(patcher.stitch(patches[:, :3], shape), x)
    else:
        torch.testing.assert_close(patcher.stitch(patches[:, :3], shape), x, rtol=1e-12, atol=1e-12)


class _FirstChannels(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x[:, : self.c]


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("levels", [1, 2])
@pytest.mark.parametrize("shape", [(64, 48), (64,)])
@pytest.mark.parametrize(("global_coordinates", "stitching"), [(False, "crop"), (True, "crop"), (True, "blend")])
def test_identity_operator_reconstructs_the_input_through_forward(
    padding_mode, levels, shape, global_coordinates, stitching
):
    model = MultigridPatchedOperator(
        _FirstChannels(2),
        in_channels=2,
        n_dim=len(shape),
        levels=levels,
        padding_fraction=0.0625,
        padding_mode=padding_mode,
        global_coordinates=global_coordinates,
        stitching=stitching,
    )
    x = torch.randn(3, 2, *shape, dtype=torch.float64)
    torch.testing.assert_close(model(x), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding_mode", ["circular", "reflect"])
def test_blend_averages_the_overlap_with_linear_ramps(padding_mode):
    # 32 points, levels 1, padding 4: patch 0 covers positions -4..19, patch 1 covers 12..35; each window
    # of 24 weighs its point k by min(k + 0.5, 23.5 - k) / 8 (capped at 1): 1/16, 3/16, ..., 15/16 over the overlap
    patcher = _patcher(1, 1, 0.125, channels=1, padding_mode=padding_mode, stitching="blend")
    outputs = torch.stack([torch.full((1, 24), 2.0), torch.full((1, 24), 10.0)]).double()  # patch values 2 and 10
    out = patcher.stitch(outputs, (32,))[0, 0]
    ramp = (torch.arange(8, dtype=torch.float64) + 0.5) / 8  # patch 1's weight at positions 12..19
    torch.testing.assert_close(out[12:20], 2.0 * (1 - ramp) + 10.0 * ramp)
    assert torch.all(out[4:12] == 2.0) and torch.all(out[20:28] == 10.0)
    if padding_mode == "circular":  # the other seam, at 0 = 32 on the torus: patch 1 ends there
        torch.testing.assert_close(out[28:32], 10.0 * (1 - ramp[:4]) + 2.0 * ramp[:4])
        torch.testing.assert_close(out[0:4], 10.0 * (1 - ramp[4:]) + 2.0 * ramp[4:])
    else:  # past a bounded edge the window has no neighbour: the points are patch 0's and patch 1's alone
        assert torch.all(out[:4] == 2.0) and torch.all(out[28:] == 10.0)
    # crop takes every point from the one patch whose interior holds it
    cropped = _patcher(1, 1, 0.125, channels=1, padding_mode=padding_mode).stitch(outputs, (32,))[0, 0]
    assert cropped[:16].eq(2.0).all() and cropped[16:].eq(10.0).all()


def test_blend_sends_gradient_to_the_padding_and_crop_does_not():
    outputs = torch.zeros(2, 1, 24, dtype=torch.float64, requires_grad=True)
    for stitching, reaches in (("blend", True), ("crop", False)):
        patcher = _patcher(1, 1, 0.125, channels=1, stitching=stitching)
        (grad,) = torch.autograd.grad(patcher.stitch(outputs, (32,)).sum(), outputs)
        assert bool(grad[:, :, :4].abs().sum() > 0) is reaches and bool(grad[:, :, -4:].abs().sum() > 0) is reaches
        torch.testing.assert_close(
            grad.sum(), torch.tensor(32.0, dtype=torch.float64)
        )  # every point's weights sum to 1


def test_average_coarsening_takes_block_means_at_their_centres():
    # x = 0..7: level 1 is [0.5, 2.5, 4.5, 6.5] (means of pairs) instead of [0, 2, 4, 6]
    x = torch.arange(8.0, dtype=torch.float64)[None, None]
    patcher = _patcher(1, 1, 0.0, channels=1, coarsening="average")
    patches = patcher.patch(x)
    assert patches[:, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert patches[:, 1].tolist() == [[6.5, 0.5, 2.5, 4.5], [2.5, 4.5, 6.5, 0.5]]
    # a coarse point's coordinate is its block's centre: for f(i) = i / 7 field and coordinate channels agree
    for coarsening in ("average", "subsample"):
        model = _patcher(2, 1, 0.0625, channels=1, padding_mode="circular", coarsening=coarsening)
        f = torch.arange(64, dtype=torch.float64)[None, None] / 63
        grid = model.coordinate_patches(1, (64,), like=f)
        field = model.patch(f)
        torch.testing.assert_close(field, grid)
    # in 2-D the block mean is over 2x2 blocks
    f = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    patches_2d = _patcher(1, 2, 0.0, channels=1, coarsening="average").patch(f)
    means = f.reshape(8, 8).unflatten(0, (4, 2)).unflatten(2, (4, 2)).mean(dim=(1, 3))
    rows = [[3, 0, 1, 2], [1, 2, 3, 0]]
    torch.testing.assert_close(patches_2d[3, 1], means[rows[1]][:, rows[1]])


@pytest.mark.parametrize(
    ("padding_mode", "context"),
    [
        # x = 0..7, levels 1, no padding: patches 0..3 and 4..7; the level-1 field x[::2] = [0, 2, 4, 6]
        # is cut into windows of 4 with stride 2, centred by padding it by 1 on each side
        ("circular", [[6, 0, 2, 4], [2, 4, 6, 0]]),
        ("reflect", [[2, 0, 2, 4], [2, 4, 6, 4]]),
        ("replicate", [[0, 0, 2, 4], [2, 4, 6, 6]]),
        ("zeros", [[0, 0, 2, 4], [2, 4, 6, 0]]),
    ],
)
def test_context_channels_are_the_hand_computed_subsampling(padding_mode, context):
    x = torch.arange(8.0)[None, None] + 0.0  # [1, 1, 8]
    patches = _patcher(1, 1, 0.0, channels=1, padding_mode=padding_mode).patch(x)
    assert patches.shape == (2, 2, 4)
    assert patches[:, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert patches[:, 1].tolist() == context
    # 2-D: f[i, j] = 10 i + j; patch (i, j) of level l takes the 1-D windows' rows and columns
    rows = {"circular": [[6, 0, 2, 4], [2, 4, 6, 0]], "reflect": [[2, 0, 2, 4], [2, 4, 6, 4]]}
    if padding_mode in rows:
        f = 10 * torch.arange(8.0)[:, None] + torch.arange(8.0)[None, :]
        patches_2d = _patcher(1, 2, 0.0, channels=1, padding_mode=padding_mode).patch(f[None, None])
        for i in range(2):
            for j in range(2):
                expected = f[rows[padding_mode][i]][:, rows[padding_mode][j]]
                assert torch.equal(patches_2d[2 * i + j, 1], expected)


def test_padding_of_the_patches_follows_the_mode():
    x = torch.arange(8.0)[None, None]  # padding 2 around patches of 4
    expected = {
        "circular": [[6, 7, 0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7, 0, 1]],
        "reflect": [[2, 1, 0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7, 6, 5]],
        "replicate": [[0, 0, 0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7, 7, 7]],
        "zeros": [[0, 0, 0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7, 0, 0]],
    }
    for mode, fine in expected.items():
        assert _patcher(1, 1, 0.25, channels=1, padding_mode=mode).patch(x)[:, 0].tolist() == fine, mode


def test_coordinates_wrap_on_the_torus_and_extend_past_a_bounded_domain():
    def grid(mode: str) -> torch.Tensor:
        model = _patcher(1, 1, 0.25, channels=1, padding_mode=mode)
        return model.coordinate_patches(1, (8,), like=torch.zeros(1, dtype=torch.float64)) * 7

    # fine level: positions -2..5 and 2..9 of the 8 points at i / 7
    assert grid("circular")[:, 0].tolist() == [[6, 7, 0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7, 0, 1]]
    for mode in ("reflect", "replicate", "zeros"):
        torch.testing.assert_close(
            grid(mode)[:, 0],
            torch.tensor([[-2.0, -1, 0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7, 8, 9]], dtype=torch.float64),
        )
    # level 1: every other point, windows centred on the patches, the same rule past the boundary
    torch.testing.assert_close(
        grid("reflect")[:, 1],
        torch.tensor([[-6.0, -4, -2, 0, 2, 4, 6, 8], [-2.0, 0, 2, 4, 6, 8, 10, 12]], dtype=torch.float64),
    )


def test_2d_patches_are_neuraloperators():
    from neuralop.training.patching import MultigridPatching2D
    from torch import nn

    for levels, shape, padding_fraction in [(2, (64, 64), 0.0625), (1, (32, 48), 0.125), (1, (16, 16), 0.0)]:
        x = torch.randn(2, 2, *shape)
        with contextlib.redirect_stdout(io.StringIO()):
            reference = MultigridPatching2D(nn.Identity(), levels=levels, padding_fraction=padding_fraction)
        expected, _ = reference.patch(x, x)
        patcher = _patcher(levels, 2, padding_fraction, channels=2)
        assert torch.equal(patcher.patch(x), expected)
        # neuraloperator's "C + levels" input channels hold for one channel: C * (levels + 1) in general
        assert expected.shape[1] == 2 * (levels + 1)
        out = expected[:, :2] * 3.0
        assert torch.equal(patcher.stitch(out, shape), reference.unpatch(out, None)[0])


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_1d_construction_is_the_per_axis_factor_of_the_2d_one(padding_mode):
    """For a separable field f(x) g(y), each 2-D multigrid channel of patch (i, j) is the outer
    product of the 1-D patches i of f and j of g at the same level: the 1-D patching is the 2-D
    construction restricted to one axis, in every padding mode."""
    levels, size, pad = 2, 48, 3
    f, g = torch.randn(size, dtype=torch.float64), torch.randn(size, dtype=torch.float64)
    patches_2d = _patcher(levels, 2, pad / size, 1, padding_mode).patch((f[:, None] * g[None, :])[None, None])
    patcher_1d = _patcher(levels, 1, pad / size, 1, padding_mode)
    pf, pg = patcher_1d.patch(f[None, None]), patcher_1d.patch(g[None, None])
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


def test_unknown_padding_mode_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"unknown padding_mode 'mirror' for mgtfno; use one of circular, reflect"):
        mgtfno(in_channels=1, out_channels=1, padding_mode="mirror", **SMALL[2])
    with pytest.raises(ConfigError, match=r"unknown stitching 'sum' for multigrid patching; use one of crop, blend$"):
        mgtfno(in_channels=1, out_channels=1, stitching="sum", **SMALL[2])
    with pytest.raises(ConfigError, match=r"unknown coarsening 'max' for multigrid patching; use one of subsample"):
        mgtfno(in_channels=1, out_channels=1, coarsening="max", **SMALL[2])


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


def test_parameter_groups_split_the_count_the_same_way_for_dense_and_factorized_models():
    from sciml.operators import fno, parameter_count, parameter_groups, tfno

    dense = fno(in_channels=1, out_channels=1, **SMALL[2])
    factorized = tfno(in_channels=1, out_channels=1, factorization="tucker", rank=0.1, **SMALL[2])
    mg = mgtfno(in_channels=1, out_channels=1, levels=1, **SMALL[2])
    for model in (dense, factorized, mg):
        groups = parameter_groups(model)
        assert sum(groups.values()) == parameter_count(model)
        assert groups["other"] == 0 and min(groups.values()) >= 0
    d, t = parameter_groups(dense), parameter_groups(factorized)
    # 2 layers of complex [8, 8, 4, 3] weights (rfft keeps 4 // 2 + 1 modes on the last axis), 2 reals each
    assert d["spectral"] == 2 * 8 * 8 * 4 * 3 * 2
    assert {k: v for k, v in d.items() if k != "spectral"} == {k: v for k, v in t.items() if k != "spectral"}
    dense_rest = parameter_count(dense) - d["spectral"]
    ratio = factorized.sciml_spec["compression_ratio"]
    assert ratio == pytest.approx((d["spectral"] + dense_rest) / (t["spectral"] + dense_rest))
    lean = tfno(
        in_channels=1,
        out_channels=1,
        factorization="tucker",
        rank=0.1,
        fno_skip="soft-gating",
        use_channel_mlp=False,
        lifting_channel_ratio=0,
        **SMALL[2],
    )
    groups = parameter_groups(lean)
    assert groups["channel_mlp"] == groups["channel_mlp_skip"] == 0 and groups["fno_skip"] == 2 * 8
