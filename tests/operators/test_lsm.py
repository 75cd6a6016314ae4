"""Latent Spectral Model: resolution handling, the spectral block, errors, fitting."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.objectives import Supervised
from sciml.operators import NeuralSpectralBlock, lsm, lsm_padded_shape
from tests.conftest import heat_map_data

SMALL = dict(width=8, num_basis=4, num_token=2, patch_size=2, depth=2, num_heads=2, projection_channels=16)


@pytest.mark.parametrize(
    ("shape", "patch", "depth", "padded"),
    [
        ((50,), (4,), 2, (64,)),
        ((64,), (4,), 2, (64,)),
        ((37, 45), (2, 3), 2, (40, 48)),
        ((85, 85), (6, 6), 4, (96, 96)),
    ],
)
def test_padded_shape_is_the_smallest_whose_every_scale_is_a_multiple_of_the_patch(shape, patch, depth, padded):
    assert lsm_padded_shape(shape, patch, depth) == padded
    for size, p, full in zip(shape, patch, padded):
        assert all((full >> level) % p == 0 for level in range(depth + 1))
        assert full - size < p << depth


@pytest.mark.parametrize(("n_dim", "shape"), [(1, (50,)), (1, (13,)), (2, (37, 45)), (2, (5, 64)), (3, (9, 6, 7))])
def test_any_resolution_gives_an_output_of_the_input_size(n_dim, shape):
    torch.manual_seed(0)
    model = lsm(in_channels=2, out_channels=3, n_dim=n_dim, **{**SMALL, "depth": 1 if n_dim == 3 else 2})
    x = torch.randn(2, 2, *shape, requires_grad=True)
    y = model(x)
    assert y.shape == (2, 3, *shape)
    # every input point, the last ones next to the padding included, reaches the output
    y.square().sum().backward()
    assert (x.grad.abs().sum(dim=(0, 1)) > 0).all()


def test_default_configuration_runs_at_non_multiple_resolution():
    model = lsm(in_channels=1, out_channels=1)  # 2-D, patch 4, depth 4: pads 70x66 to 128x128
    assert model(torch.randn(1, 1, 70, 66)).shape == (1, 1, 70, 66)


def _block(n_dim=2, patch=(2, 3)):
    torch.manual_seed(0)
    return NeuralSpectralBlock(8, n_dim=n_dim, patch_size=patch, num_basis=6, num_token=3, num_heads=2)


def test_basis_is_sin_then_cos_at_frequencies_pi_k_over_num_basis():
    block = _block()
    k = torch.arange(6, dtype=torch.float32)
    torch.testing.assert_close(block.frequencies, math.pi * k / 6)
    z = torch.linspace(-3.0, 3.0, 7).reshape(7, 1)
    features = block.basis(z)
    assert features.shape == (7, 1, 12)
    torch.testing.assert_close(features[..., :6], torch.sin(z[..., None] * math.pi * k / 6))
    torch.testing.assert_close(features[..., 6:], torch.cos(z[..., None] * math.pi * k / 6))
    assert block.spectral_weights.shape == (8, 12)
    assert "frequencies" not in block.state_dict()  # derived from num_basis


def test_patches_are_contiguous_blocks_and_unpatchify_inverts():
    block = _block()
    x = torch.arange(2 * 8 * 4 * 6, dtype=torch.float32).reshape(2, 8, 4, 6)
    patches = block._patchify(x)
    assert patches.shape == (2 * 2 * 2, 6, 8)
    # second patch of the first sample: rows 0..1, columns 3..5, points row-major
    torch.testing.assert_close(patches[1], x[0, :, 0:2, 3:6].reshape(8, 6).T)
    assert torch.equal(block._unpatchify(patches, x.shape), x)


def test_spectral_block_acts_on_each_patch_independently():
    block = _block().eval()
    x = torch.randn(1, 8, 4, 6)
    changed = x.clone()
    changed[0, :, 2:4, 0:3] += 1.0  # one patch
    with torch.no_grad():
        diff = (block(changed) - block(x)).abs()
    assert diff[0, :, 2:4, 0:3].amax() > 1e-3
    diff[0, :, 2:4, 0:3] = 0
    assert diff.amax() == 0


def test_transition_adds_the_basis_expansion_to_the_tokens():
    block = _block(n_dim=1, patch=(4,)).eval()
    with torch.no_grad():
        z = block.encode(block._patchify(torch.randn(2, 8, 8)))
        assert z.shape == (2 * 2, 8, 3)  # [patches, channels, tokens]
        expected = z + (block.basis(z) * block.spectral_weights[:, None, :]).sum(dim=-1)
        torch.testing.assert_close(block.transition(z), expected)
        block.spectral_weights.zero_()
        assert torch.equal(block.transition(z), z)


def test_bad_inputs_and_configs_raise_one_line_errors():
    model = lsm(in_channels=1, out_channels=1, n_dim=2, **SMALL)
    with pytest.raises(
        ShapeError, match=r"lsm' is 2-D and takes x \[B, C, X, Y\] .* pass 2-D fields or build lsm with n_dim=1"
    ):
        model(torch.randn(2, 1, 16))
    with pytest.raises(
        ShapeError, match=r"has in_channels=1 but x of shape \(2, 4, 16, 16\) has 4 channels .* set in_channels=4"
    ):
        model(torch.randn(2, 4, 16, 16))
    with pytest.raises(ConfigError, match="width=12 is not a multiple of num_heads=8"):
        lsm(in_channels=1, out_channels=1, width=12)
    with pytest.raises(ConfigError, match=r"lsm is 1-D but patch_size=\[2, 2\] has 2 entries"):
        lsm(in_channels=1, out_channels=1, n_dim=1, patch_size=(2, 2))
    with pytest.raises(ConfigError, match="unknown lsm norm 'layer'"):
        lsm(in_channels=1, out_channels=1, norm="layer")


def test_patch_size_sequence_sets_dimensionality():
    model = lsm(in_channels=1, out_channels=1, patch_size=(2,), width=8, depth=1, num_heads=2)
    assert model.sciml_spec["n_dim"] == 1 and model.sciml_spec["patch_size"] == [2]


def test_overfits_one_small_batch():
    """200 Adam steps on 4 heat-equation samples at 50 points (not a multiple of the
    patch * 2**depth = 8) reach relative L2 < 0.05 in eval mode; measured 0.017 to 0.023
    over seeds 0 to 3 (about 2 s)."""
    a, u, _ = heat_map_data(n=4, s=50, nu=0.02, t_final=0.5)
    b = {"x": torch.from_numpy(a), "y": torch.from_numpy(u[:, 1])}
    torch.manual_seed(0)
    model = lsm(
        in_channels=1,
        out_channels=1,
        n_dim=1,
        width=16,
        num_basis=4,
        num_token=2,
        patch_size=2,
        depth=2,
        num_heads=4,
        projection_channels=32,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    objective = Supervised()
    for _ in range(200):
        optimizer.zero_grad()
        objective(model, b)["loss"].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert objective(model, b)["loss"] < 0.05


@pytest.mark.parametrize(("sizes", "depth", "patch"), [((128,), 3, (16,)), ((50,), 2, (13,)), ((37, 45), 2, (10, 12))])
def test_auto_patch_makes_the_coarsest_scale_one_patch(sizes, depth, patch):
    """patch_size="auto": ceil(S / 2**depth) per axis, so the coarsest scale's spectral block sees the
    whole (padded) domain as one patch, at every resolution."""
    n_dim = len(sizes)
    model = lsm(
        in_channels=1,
        out_channels=2,
        n_dim=n_dim,
        width=8,
        num_basis=4,
        num_token=2,
        depth=depth,
        num_heads=2,
        patch_size="auto",
        norm="group",
    )
    assert model.patch_for(sizes) == patch and model.sciml_spec["patch_size"] == "auto"
    seen = {}

    def record(module, args, out):
        seen["shape"] = tuple(args[0].shape[2:])

    model.blocks[depth].register_forward_hook(record)
    out = model(torch.randn(2, 1, *sizes))
    assert out.shape == (2, 2, *sizes)
    assert seen["shape"] == patch  # one patch at the bottom
    # a finer input gets a larger patch, the same parameters
    finer = tuple(2 * s for s in sizes)
    assert model.patch_for(finer) == tuple(-(-s // (1 << depth)) for s in finer)
    assert model(torch.randn(1, 1, *finer)).shape == (1, 2, *finer)


def test_auto_patch_is_rejected_when_misspelled():
    with pytest.raises(ConfigError, match="patch_size must be an integer, one per axis, or 'auto'"):
        lsm(in_channels=1, out_channels=1, n_dim=1, patch_size="automatic")
