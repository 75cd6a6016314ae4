"""The installed benchmarks: names -> modules ``sciml.bench.<name>``, imported when one is run or listed.

A benchmark module exposes ``PRESETS`` (``{name: settings}``; ``DEFAULT_PRESET``, ``quick``
unless it says), ``DEFAULT_EXECUTOR`` (``serial`` unless it says), optionally
``add_arguments(parser, root)`` for its own options and ``EXECUTOR_OPTIONS`` (keywords of
:func:`~sciml.bench.make_executor`), and ``run(preset, out, executor, **options) -> payload``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sciml.core.registry import Registry

__all__ = ["BENCHMARKS", "load_benchmark", "describe_benchmarks"]

BENCHMARKS: Registry[str] = Registry("benchmark", plugins=False)
BENCHMARKS.register(
    "operators",
    "sciml.bench.operators",
    doc="FNO, TFNO, MG-TFNO, LSM and the neuraloperator-trained FNO on Darcy, Navier-Stokes and Burgers",
)
BENCHMARKS.register(
    "operators_variants",
    "sciml.bench.operators_variants",
    doc="variants of the operators benchmark's models (layouts, ranks, learning rates, seeds) from a YAML spec",
)
BENCHMARKS.register(
    "nde_regularization",
    "sciml.bench.nde_regularization",
    doc="neural ODE/SDE solver-heuristic regularization: vanilla vs STEER vs global vs local",
)
BENCHMARKS.register(
    "trainer_overhead",
    "sciml.bench.trainer_overhead",
    doc="sciml's Trainer vs a bare torch loop vs neuraloperator's Trainer, seconds per epoch",
)
BENCHMARKS.register(
    "generators",
    "sciml.bench.generators",
    doc="generator speed: CPU seconds per sample at two resolutions, peak memory, 1000-sample time",
)
BENCHMARKS.register(
    "generators_chaos",
    "sciml.bench.generators_chaos",
    doc="chaos trajectories: our batched integrators vs dysts make_trajectory (speed, error); Lyapunov check",
)
BENCHMARKS.register(
    "chaos",
    "sciml.bench.chaos",
    doc="chaotic forecasting: dysts systems x forecasters x seeds, VPT in Lyapunov times, D_stsp, D_H, leaderboard",
)
BENCHMARKS.register(
    "koopman",
    "sciml.bench.koopman",
    doc="Koopman learners vs PyDMD on the same data and dictionary: eigenvalues and fit time (EDMD, Hankel-DMD)",
)
BENCHMARKS.register(
    "pinn_convection",
    "sciml.bench.pinn_convection",
    doc="PINN failure on convection: vanilla, curriculum, causal PINN and Lagrangian PINN over beta; Burgers",
)
BENCHMARKS.register(
    "pinn_deepxde",
    "sciml.bench.pinn_deepxde",
    doc="our vanilla PINN against DeepXDE's (optional peer) on Burgers and heat: error and time per iteration",
)

BENCHMARKS.register(
    "koopman_stnn",
    "sciml.bench.koopman_stnn",
    doc="StNN (Hankel-structured layers) vs the dense network, HAVOK and SINDy on Lotka-Volterra and Lorenz-63",
)


def load_benchmark(name: str) -> ModuleType:
    """The module of the benchmark ``name`` (an unknown name lists close matches and the valid ones)."""
    return importlib.import_module(BENCHMARKS.get(name))


def presets_of(module: ModuleType) -> list[str]:
    return list(getattr(module, "PRESETS", {}) or {})


def describe_benchmarks() -> str:
    """One line per installed benchmark: name, presets, what it measures (``sciml bench --list``)."""
    lines = []
    for name in BENCHMARKS.names():
        presets = presets_of(load_benchmark(name))
        what = f"presets {', '.join(presets)}" if presets else "no presets"
        lines.append(f"  {name:<20} {what:<28} {BENCHMARKS.describe(name)}")
    return "\n".join(["benchmarks (sciml bench NAME --help):", *lines])
