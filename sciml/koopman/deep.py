"""Deep Koopman autoencoder (Lusch, Kutz, Brunton 2018): learned observables with linear latent dynamics.

An encoder ``phi: R^D -> R^k`` (an MLP), a learned matrix ``K [k, k]`` that advances the
latent state (``z_{t+1} = K z_t``) and a decoder ``psi: R^k -> R^D`` are trained together
on trajectory windows ``x_t, x_{t+1}, ..., x_{t+S}`` with three losses (mean squares):

* reconstruction ``|x_t - psi(phi(x_t))|^2``,
* linearity ``(1/S) sum_{m=1..S} |phi(x_{t+m}) - K^m phi(x_t)|^2``,
* prediction ``(1/S) sum_{m=1..S} |x_{t+m} - psi(K^m phi(x_t))|^2``.

Their weighted sum is the objective ``deep_koopman`` (registered in ``OBJECTIVES``); the
model is registered in ``MODELS`` as ``deep_koopman`` (``dim`` from the data), so
``sciml train`` with the ``dynamics`` task trains it on windows of ``context`` states and
``horizon = S`` targets. The eigenvalues of ``K`` approximate Koopman eigenvalues and
``xi^T phi(x)``, for the left eigenvectors ``xi`` of ``K``, the eigenfunctions. The
forecaster ``deep_koopman`` (:mod:`sciml.forecast`) trains it with the Trainer.

**The decoder.** With ``decoder_depth = 0`` (the default) the decoder is affine, so the
states must lie in the span of the learned observables: the latent space is then a
Koopman-invariant subspace that contains the state, the setting of EDMD. A nonlinear
decoder (``decoder_depth >= 1``) reconstructs the state from fewer observables (Lusch et
al.'s slow-manifold example uses ``k = 2`` with ``x = psi(phi_1, phi_2)``), but then extra
latent dimensions are not determined by the losses and their eigenvalues mean nothing.

This module is below :mod:`sciml.training` and does not import it.

Reference
---------
B. Lusch, J. N. Kutz, S. L. Brunton, "Deep learning for universal linear embeddings of
nonlinear dynamics", Nat. Commun. 9 (2018) 4950.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.objectives import AbstractObjective
from sciml.core.registry import MODELS, OBJECTIVES

__all__ = ["DeepKoopman", "DeepKoopmanLoss", "deep_koopman"]


def _mlp(n_in: int, n_out: int, hidden: int, depth: int) -> nn.Sequential:
    sizes = [n_in] + [hidden] * depth + [n_out]
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def _positive(owner: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{owner} {name}={value!r} must be an integer >= 1")


class DeepKoopman(nn.Module):
    """Encoder MLP, linear latent map ``K`` and decoder (Lusch et al. 2018).

    Parameters
    ----------
    dim : int
        ``D``, the state dimension (``sciml train`` takes it from the data).
    latent : int
        ``k``, the number of learned observables (the size of ``K``).
    hidden, depth : int
        The encoder: ``depth`` hidden tanh layers of ``hidden`` units.
    decoder_depth : int
        Hidden tanh layers of the decoder (``hidden`` units each); 0: affine (see the
        module docstring for why that is the default).
    steps : int
        ``S``, the states :meth:`forward` predicts (the horizon of the training windows).

    ``forward(x)``: ``x [B, D]`` or a window ``[B, C, D]`` (its last state) -> the next
    ``steps`` states ``[B, steps, D]``, by ``psi(K^m phi(x))``.
    """

    def __init__(self, dim: int, latent: int = 3, hidden: int = 32, depth: int = 2, decoder_depth: int = 0,
                 steps: int = 8):
        super().__init__()
        _positive("DeepKoopman", dim=dim, latent=latent, hidden=hidden, depth=depth, steps=steps)
        if isinstance(decoder_depth, bool) or not isinstance(decoder_depth, int) or decoder_depth < 0:
            raise ConfigError(f"DeepKoopman decoder_depth={decoder_depth!r} must be an integer >= 0 (0: affine)")
        self.dim, self.latent, self.steps = int(dim), int(latent), int(steps)
        self.encoder = _mlp(dim, latent, hidden, depth)
        self.koopman = nn.Linear(latent, latent, bias=False)
        self.decoder = _mlp(latent, dim, hidden, decoder_depth)

    @property
    def koopman_matrix(self) -> torch.Tensor:
        """``K [k, k]``: ``z_{t+1} = K z_t``."""
        return self.koopman.weight

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., D] -> [..., k]``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[..., k] -> [..., D]``."""
        return self.decoder(z)

    def advance(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        """``K^m z`` for ``m = 1..steps``: ``z [B, k] -> [B, steps, k]``."""
        out = []
        for _ in range(int(steps)):
            z = self.koopman(z)
            out.append(z)
        return torch.stack(out, dim=1)

    def rollout(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """The next ``steps`` states after ``x [B, D]``: ``[B, steps, D]``."""
        return self.decode(self.advance(self.encode(x), steps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x[:, -1]
        if x.ndim != 2 or x.shape[-1] != self.dim:
            raise ShapeError(f"DeepKoopman takes states [B, {self.dim}] or windows [B, C, {self.dim}], got {tuple(x.shape)}")
        return self.rollout(x, self.steps)


def deep_koopman(dim: int, *, latent: int = 3, hidden: int = 32, depth: int = 2, decoder_depth: int = 0,
                 steps: int = 8) -> DeepKoopman:
    """A :class:`DeepKoopman` (the ``MODELS`` entry; ``dim`` comes from the trajectories)."""
    return DeepKoopman(dim, latent=latent, hidden=hidden, depth=depth, decoder_depth=decoder_depth, steps=steps)


MODELS.register("deep_koopman", deep_koopman)


def _unwrap(model: nn.Module) -> DeepKoopman:
    net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if not isinstance(net, DeepKoopman):
        raise ConfigError(f"the deep_koopman objective trains a DeepKoopman model (MODELS 'deep_koopman'), got {type(net).__name__}")
    return net


def _split(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_t [B, D], the next states [B, S, D])`` from a batch."""
    x = batch["x"]
    if "y" in batch:
        y = batch["y"]
        x0 = x[:, -1] if x.ndim == 3 else x
    else:
        if x.ndim != 3 or x.shape[1] < 2:
            raise ShapeError(
                f"the deep_koopman objective needs x [B, C, D] with targets y [B, S, D], or sequences x [B, S + 1, D]; "
                f"got x {tuple(x.shape)} without y"
            )
        x0, y = x[:, 0], x[:, 1:]
    if y.ndim != 3 or x0.ndim != 2 or y.shape[-1] != x0.shape[-1]:
        raise ShapeError(f"the deep_koopman objective needs states x [B, D] and targets y [B, S, D], got {tuple(x.shape)} and {tuple(y.shape)}")
    return x0, y


@OBJECTIVES.register("deep_koopman")
class DeepKoopmanLoss(AbstractObjective):
    """Reconstruction, linearity and prediction losses of a :class:`DeepKoopman` (Lusch et al. 2018).

    Batches: ``x [B, C, D]`` (or ``[B, D]``; the last state is ``x_t``) with targets
    ``y [B, S, D]`` (the next ``S`` states), or sequences ``x [B, S + 1, D]`` without ``y``.
    Returns ``loss`` (the weighted sum), ``reconstruction``, ``linearity``, ``prediction``
    and ``pred`` (``psi(K^m phi(x_t))``, ``[B, S, D]``, what evaluation compares with ``y``).

    Parameters
    ----------
    reconstruction, linearity, prediction : float >= 0
        The weights of the three terms (Lusch et al. weight prediction and reconstruction
        alike; their linearity weight is smaller on some examples).
    """

    def __init__(self, reconstruction: float = 1.0, linearity: float = 1.0, prediction: float = 1.0):
        for name, value in (("reconstruction", reconstruction), ("linearity", linearity), ("prediction", prediction)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"deep_koopman objective: {name}={value!r} must be a number >= 0")
        self.weights = (float(reconstruction), float(linearity), float(prediction))

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        net = _unwrap(model)
        x0, y = _split(batch)
        z0 = net.encode(x0)
        reconstruction = ((net.decode(z0) - x0) ** 2).mean()
        z_pred = net.advance(z0, y.shape[1])  # [B, S, k]
        linearity = ((z_pred - net.encode(y)) ** 2).mean()
        pred = net.decode(z_pred)
        prediction = ((pred - y) ** 2).mean()
        wr, wl, wp = self.weights
        loss = wr * reconstruction + wl * linearity + wp * prediction
        return {
            "loss": loss,
            "reconstruction": reconstruction.detach(),
            "linearity": linearity.detach(),
            "prediction": prediction.detach(),
            "pred": pred.detach(),
        }

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x0, y = _split(batch)
        return _unwrap(model).rollout(x0, y.shape[1])

    def config(self) -> dict[str, Any]:
        wr, wl, wp = self.weights
        return {"name": "deep_koopman", "reconstruction": wr, "linearity": wl, "prediction": wp}
