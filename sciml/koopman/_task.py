"""The ``koopman`` task: Koopman estimators fitted on trajectories files (``sciml train``, ``sciml eval``).

Data: every split read whole into memory in float64 (:func:`~sciml.data.arrays.load_trajectories`),
with the split settings of the config's ``data`` section (by sample, or in time with
``data.options.split_by: time``). The estimator is named in the task's section::

    task: koopman
    data: {path: linear.h5, kind: trajectories}
    koopman: {estimator: {name: dmd, kwargs: {rank: null}}}

Plots: the eigenvalues in the complex plane with the unit circle, and a free-running
forecast against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sciml.core.config import ComponentConfig
from sciml.core.errors import ConfigError
from sciml.core.estimator import build_estimator
from sciml.core.registry import TASKS
from sciml.core.task import AbstractTask
from sciml.data.arrays import load_trajectories

__all__ = ["KoopmanConfig", "KoopmanTask"]

_SPLIT_OPTIONS = ("split_by", "time_fractions")


def _dmd() -> ComponentConfig:
    return ComponentConfig(name="dmd")


@dataclass
class KoopmanConfig:
    """The ``koopman`` section: which registered estimator (``sciml list estimators``) and its arguments."""

    estimator: ComponentConfig = field(default_factory=_dmd)


@TASKS.register("koopman")
class KoopmanTask(AbstractTask):
    """Koopman estimators (DMD, ...) fitted in float64 on trajectories."""

    section = KoopmanConfig
    fits = "estimator"

    def build_data(self, splits):
        data_cfg = self.cfg.data
        if not data_cfg.path:
            raise ConfigError("data.path is empty; set it to a trajectories file (sciml data generate linear_ode ...)")
        unknown = sorted(set(data_cfg.options) - set(_SPLIT_OPTIONS))
        if unknown:
            raise ConfigError(
                f"data.options {unknown} are not read by task koopman (it reads whole trajectories); "
                f"valid: {', '.join(_SPLIT_OPTIONS)}"
            )
        return {
            split: load_trajectories(
                data_cfg.path, split, fractions=data_cfg.fractions, split_seed=data_cfg.split_seed, **data_cfg.options
            )
            for split in splits
        }

    def build_estimator(self):
        spec = self.options.estimator
        return build_estimator(spec.name, spec.kwargs)

    def plots(self, predictor, data, history, out: Path):
        from sciml.core.plotting import _plt, _save

        estimator = predictor
        written = []
        eigenvalues = np.asarray(getattr(estimator, "eigenvalues_", []))
        if hasattr(estimator, "residuals_") or hasattr(estimator, "candidate_residuals_"):
            from sciml.koopman.plots import spectrum_figure

            fig = spectrum_figure(
                getattr(estimator, "candidate_eigenvalues_", eigenvalues),
                getattr(estimator, "candidate_residuals_", getattr(estimator, "residuals_", None)),
                kept=getattr(estimator, "kept_", None),
                pseudospectrum=getattr(estimator, "pseudospectrum", None),
                grid_points=40,
                title=f"{type(estimator).__name__}: eigenvalues coloured by residual",
            )
            written.append(_save(fig, out / "eigenvalues.png"))
        elif eigenvalues.size:
            plt = _plt()
            fig, ax = plt.subplots(figsize=(4.6, 4.4))
            theta = np.linspace(0, 2 * np.pi, 400)
            ax.plot(np.cos(theta), np.sin(theta), color="0.6", lw=1, label="unit circle")
            ax.scatter(eigenvalues.real, eigenvalues.imag, s=24, color="C3", zorder=3, label="eigenvalues")
            ax.set_aspect("equal")
            ax.set_xlabel("Re $\\lambda$")
            ax.set_ylabel("Im $\\lambda$")
            ax.set_title(f"{type(estimator).__name__}: discrete-time eigenvalues")
            ax.legend(loc="lower left", fontsize=8)
            written.append(_save(fig, out / "eigenvalues.png"))
        forecast = getattr(estimator, "forecast", None)
        # the forecast protocol's estimators (min_context) take a context [B, C, D]; DMD takes states [B, D]
        context = int(getattr(estimator, "min_context", 0))
        if forecast is not None and data.n_trajectories and data.n_times > max(context, 1):
            truth = data.x[0]
            if context:
                pred = np.asarray(forecast(truth[None, :context], data.n_times - context))[0]
                pred = np.concatenate([truth[1:context], pred])  # the context itself is drawn as known
            else:
                pred = np.asarray(forecast(truth[None, 0], data.n_times - 1))[0]
            plt = _plt()
            dims = min(truth.shape[-1], 3)
            fig, axes = plt.subplots(dims, 1, figsize=(6.4, 1.8 * dims + 0.6), squeeze=False, sharex=True)
            steps = np.arange(data.n_times)
            for d in range(dims):
                ax = axes[d, 0]
                ax.plot(steps, truth[:, d], color="k", lw=1.2, label="truth")
                ax.plot(steps[1:], pred[:, d], color="C0", lw=1.0, ls="--", label="forecast")
                ax.set_ylabel(f"$x_{d}$")
            axes[0, 0].legend(loc="upper right", fontsize=8)
            axes[-1, 0].set_xlabel("step")
            axes[0, 0].set_title("free-running forecast of the first test trajectory")
            written.append(_save(fig, out / "forecast.png"))
        return written
