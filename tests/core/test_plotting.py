"""The shared figures: the numbers drawn are the numbers given, error panels centred on zero, axes labelled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.core.plotting import (
    confusion_counts,
    confusion_figure,
    fields_figure,
    history_axis,
    history_figure,
    moments_figure,
    parity_figure,
    save_figure,
    trajectories_figure,
)
from sciml.core.registry import TASKS
from sciml.data import FieldDataset, Provenance, write_fields


def _titled(fig, prefix):
    return [ax for ax in fig.axes if ax.get_title().startswith(prefix)]


def _fields_2d(seed=0, n=3, sx=12, sy=8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, sx, sy))
    y = rng.normal(size=(n, 1, sx, sy))
    pred = y + rng.normal(scale=0.3, size=y.shape) + 0.2  # biased: |min error| != |max error|
    return x, y, pred


def test_2d_error_panels_are_centred_on_zero_at_max_abs_error_on_the_grid():
    x, y, pred = _fields_2d()
    gx, gy = np.linspace(0.0, 2.0, 12, endpoint=False), np.linspace(-1.0, 1.0, 8, endpoint=False)
    fig = fields_figure(x, y, pred, coords=[gx, gy], coord_names=["r", "z"])
    errors = _titled(fig, "error")
    assert len(errors) == 3
    for j, ax in enumerate(errors):
        image = ax.images[0]
        err = pred[j, 0] - y[j, 0]
        limit = np.abs(err).max()
        assert image.norm.vmin == pytest.approx(-limit, rel=1e-12) and image.norm.vmax == pytest.approx(
            limit, rel=1e-12
        )
        assert abs(err.min()) != pytest.approx(abs(err.max()))  # so symmetric limits are not a coincidence
        assert image.get_cmap().name == "RdBu_r"
        np.testing.assert_allclose(np.asarray(image.get_array()), err.T)  # x horizontal, y vertical
        # the image covers the file's grid: cell centres at the coordinates
        dx, dy = gx[1] - gx[0], gy[1] - gy[0]
        np.testing.assert_allclose(
            image.get_extent(), [gx[0] - dx / 2, gx[-1] + dx / 2, gy[0] - dy / 2, gy[-1] + dy / 2]
        )
    for ax in _titled(fig, "truth") + _titled(fig, "prediction") + errors:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("r", "z")
    # truth and prediction share the truth's colour range; every panel has a colorbar
    truth, prediction = _titled(fig, "truth")[0].images[0], _titled(fig, "prediction")[0].images[0]
    assert (
        (prediction.norm.vmin, prediction.norm.vmax)
        == (truth.norm.vmin, truth.norm.vmax)
        == (y[0, 0].min(), y[0, 0].max())
    )
    assert all(ax.images[0].colorbar is not None for ax in fig.axes if ax.images and ax.get_title())


def test_an_exact_prediction_still_gets_a_symmetric_error_range():
    x, y, _ = _fields_2d(n=1)
    image = _titled(fields_figure(x, y, y.copy()), "error")[0].images[0]
    assert (image.norm.vmin, image.norm.vmax) == (-1.0, 1.0)


def test_1d_fields_curves_and_error_range():
    rng = np.random.default_rng(1)
    grid = np.linspace(0, 3, 20)
    x, y = rng.normal(size=(2, 1, 20)), rng.normal(size=(2, 1, 20))
    pred = y + 0.1 + rng.normal(scale=0.05, size=y.shape)
    fig = fields_figure(x, y, pred, coords=[grid], coord_names=["s"])
    for j, ax in enumerate(_titled(fig, "error")):
        (curve,) = ax.get_lines()[:1]
        np.testing.assert_allclose(curve.get_xdata(), grid)
        np.testing.assert_allclose(curve.get_ydata(), pred[j, 0] - y[j, 0])
        low, high = ax.get_ylim()
        assert low == pytest.approx(-high) and high >= np.abs(pred[j, 0] - y[j, 0]).max()
        assert ax.get_xlabel() == "s" and ax.get_ylabel()
    top = _titled(fig, "sample 0")[0]
    by_label = {line.get_label(): line for line in top.get_lines()}
    np.testing.assert_allclose(by_label["prediction"].get_ydata(), pred[0, 0])
    assert by_label["prediction"].get_linestyle() == "--" and by_label["truth"].get_linestyle() == "-"


def _rows(epochs, steps, loss):
    return [{"epoch": e, "step": s, "train_loss": v, "val_loss": 2 * v} for e, s, v in zip(epochs, steps, loss)]


@pytest.mark.parametrize(
    ("epochs", "steps", "expected"),
    [
        ([1, 2, 3, 4], [5, 10, 15, 20], "epoch"),  # a row per epoch of 5 steps
        ([1, 1, 2, 2], [3, 6, 9, 10], "step"),  # eval_every=3 in epochs of 5 steps: two rows per epoch
        ([3, 5, 8], [25, 50, 75], "step"),  # eval_every=25 in epochs of 10 steps
        ([1, 2, 3], [5, 10, 12], "step"),  # max_steps=12 ends the run mid-epoch
    ],
)
def test_history_axis_is_the_epoch_only_for_one_row_per_epoch(epochs, steps, expected):
    history = _rows(epochs, steps, [1.0, 0.5, 0.25, 0.125][: len(epochs)])
    name, values = history_axis(history)
    assert name == expected
    np.testing.assert_array_equal(values, epochs if expected == "epoch" else steps)
    fig = history_figure(history)
    ax = fig.axes[0]
    assert ax.get_xlabel() == ("epoch" if expected == "epoch" else "optimizer step")
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["train_loss"].get_xdata(), values)
    np.testing.assert_array_equal(lines["val_loss"].get_ydata(), [row["val_loss"] for row in history])


def test_history_is_log_scale_only_when_every_value_is_positive():
    assert history_figure(_rows([1, 2], [1, 2], [1.0, 0.1])).axes[0].get_yscale() == "log"
    linear = history_figure(_rows([1, 2], [1, 2], [0.5, -0.1])).axes[0]  # a negative log-likelihood
    assert linear.get_yscale() == "linear" and linear.get_ylabel() == "loss"
    old = history_figure([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}])  # rows without step
    assert old.axes[0].get_xlabel() == "epoch"


def test_confusion_matrix_counts_and_labels():
    rng = np.random.default_rng(2)
    labels, predicted = rng.integers(0, 4, size=200), rng.integers(0, 4, size=200)
    counts = confusion_counts(labels, predicted, 4)
    expected = np.zeros((4, 4), dtype=int)
    for true, guess in zip(labels, predicted):
        expected[true, guess] += 1
    np.testing.assert_array_equal(counts, expected)
    names = ["cat", "dog", "emu", "yak"]
    ax = confusion_figure(counts, class_names=names).axes[0]
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == names == [t.get_text() for t in ax.get_yticklabels()]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    written = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert written == {(i, j): expected[i, j] for i in range(4) for j in range(4)}
    assert f"accuracy {np.trace(expected) / 200:.3f}" in ax.get_title()


def test_trajectories_and_moments_draw_the_given_arrays():
    rng = np.random.default_rng(3)
    times = np.tile(np.linspace(0, 1, 9), (2, 1))
    truth, pred = rng.normal(size=(2, 9, 3)), rng.normal(size=(2, 8, 3))  # prediction after the first state
    fig = trajectories_figure(times, truth, pred, component_names=["a", "b", "c"], time_label="t [s]", n_components=2)
    axes = np.array([ax for ax in fig.axes]).reshape(2, 2)  # rows: components, columns: trajectories
    for j in range(2):
        for d in range(2):
            truth_line, pred_line = axes[d, j].get_lines()
            np.testing.assert_array_equal(pred_line.get_xdata(), times[j, 1:])
            np.testing.assert_array_equal(pred_line.get_ydata(), pred[j, :, d])
            np.testing.assert_array_equal(truth_line.get_ydata(), truth[j, :, d])
            assert axes[d, j].get_ylabel() == "ab"[d]
    assert axes[1, 0].get_xlabel() == "t [s]"
    data, model = rng.normal(size=(50, 9, 2)), rng.normal(1.0, 2.0, size=(300, 9, 2))
    fig = moments_figure(times[0], data, model, time_label="t")
    for d, ax in enumerate(fig.axes[:2]):
        data_mean, model_mean = ax.get_lines()
        np.testing.assert_allclose(data_mean.get_ydata(), data[..., d].mean(0))
        np.testing.assert_allclose(model_mean.get_ydata(), model[..., d].mean(0))
        band = ax.collections[1].get_paths()[0].vertices  # the model's band: mean ± unbiased std
        std = model[..., d].std(0, ddof=1)
        assert band[:, 1].max() == pytest.approx((model[..., d].mean(0) + std).max())
        assert ax.get_xlabel() == "t" and ax.get_ylabel() == f"$x_{{{d}}}$"


def test_parity_figure_scatters_prediction_against_truth():
    rng = np.random.default_rng(5)
    truth = rng.normal(size=(30, 2))
    pred = truth + rng.normal(scale=0.1, size=truth.shape)
    fig = parity_figure(truth, pred, names=["u", "v"])
    for i, ax in enumerate(fig.axes):
        np.testing.assert_allclose(ax.collections[0].get_offsets(), np.stack([truth[:, i], pred[:, i]], 1))
        assert (ax.get_xlabel(), ax.get_ylabel()) == (f"true {'uv'[i]}", f"predicted {'uv'[i]}")


def test_save_figure_writes_a_png_atomically_and_closes_pyplot_figures(tmp_path):
    import matplotlib.pyplot as plt

    path = save_figure(history_figure(_rows([1, 2], [1, 2], [1.0, 0.5])), tmp_path / "sub" / "loss.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and [p.name for p in path.parent.iterdir()] == ["loss.png"]
    fig = plt.figure()
    save_figure(fig, tmp_path / "pyplot.png")
    assert fig.number not in plt.get_fignums()


def test_operator_task_draws_fields_on_the_files_grid(tmp_path):
    rng = np.random.default_rng(4)
    gx, gy = np.linspace(0.0, 2.0, 16, endpoint=False), np.linspace(-1.0, 1.0, 8, endpoint=False)
    a, u = rng.normal(size=(6, 1, 16, 8)).astype(np.float32), rng.normal(size=(6, 1, 1, 16, 8)).astype(np.float32)
    path = tmp_path / "f.h5"
    write_fields(path, u, np.array([0.0]), {"r": gx, "z": gy}, Provenance("test:fields"), a=a)
    data = FieldDataset(path, None)
    offset = torch.linspace(-0.3, 0.1, 8)  # an error that grows along z, larger below zero

    def predictor(batch):
        return batch["y"] + offset

    history = _rows([1, 1], [3, 6], [1.0, 0.5])  # eval_every=3 in epochs of 6 steps
    figures = TASKS.get("operator")(None, "operator").figures(predictor, data, history)
    assert list(figures) == ["loss", "predictions"]
    fig = figures["predictions"]
    for ax in _titled(fig, "error"):
        image = ax.images[0]
        assert (image.norm.vmin, image.norm.vmax) == pytest.approx((-0.3, 0.3), rel=1e-6)
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("r", "z")
        assert image.get_extent()[0] == pytest.approx(-1 / 16) and image.get_extent()[3] == pytest.approx(1 - 1 / 8)
    assert figures["loss"].axes[0].get_xlabel() == "optimizer step"
