"""Deep Koopman forecaster: the autoencoder of :mod:`sciml.koopman.deep` trained with the Trainer."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.estimator import as_float64_array
from sciml.forecast._common import check_positive_int
from sciml.forecast._neural import _TorchForecaster
from sciml.forecast._protocol import register_forecaster
from sciml.koopman import DeepKoopman, DeepKoopmanLoss, sorted_eig

__all__ = ["DeepKoopmanForecaster"]


@register_forecaster("deep_koopman", doc="deep Koopman autoencoder (encoder, linear latent K, decoder), Trainer")
class DeepKoopmanForecaster(_TorchForecaster):
    """Deep Koopman autoencoder (Lusch, Kutz, Brunton 2018) of the standardized state.

    An encoder MLP ``phi`` to ``latent`` observables, a learned ``K [latent, latent]``
    (``z_{t+1} = K z_t``) and a decoder ``psi`` (:class:`~sciml.koopman.DeepKoopman`),
    trained with :class:`sciml.training.Trainer` (Adam, ``steps`` optimizer steps) on every
    window ``x_t, ..., x_{t + prediction_steps}`` of the training trajectories, with the
    reconstruction, linearity and prediction losses of
    :class:`~sciml.koopman.DeepKoopmanLoss` weighted by ``reconstruction_weight``,
    ``linearity_weight`` and ``prediction_weight``. A forecast encodes the last context state
    once and iterates ``K`` in the latent space (``min_context = 1``).

    Parameters
    ----------
    latent : int
        ``k``, the learned observables. A good start is the dimension of the smallest
        Koopman-invariant subspace that holds the state (3 for the slow-manifold map).
    hidden, depth : int
        The encoder MLP (tanh).
    decoder_depth : int
        Hidden layers of the decoder; 0 (affine) makes the latent space an invariant
        subspace that contains the state, so every eigenvalue of ``K`` is meaningful.
    prediction_steps : int
        ``S``, the horizon of the linearity and prediction losses.
    reconstruction_weight, linearity_weight, prediction_weight : float
    steps, batch_size, lr :
        Training budget and Adam's learning rate.
    device : str
    seed : int

    Attributes
    ----------
    koopman_matrix_ : ndarray ``[k, k]``, float64
        The learned ``K`` (on the standardized state; Koopman eigenvalues do not depend on
        the state's coordinates).
    eigenvalues_ : ndarray ``[k]``, complex128
        Of ``K``, by decreasing modulus (:func:`sciml.koopman.sorted_eig`).
    left_eigenvectors_ : ndarray ``[k, k]``, complex128
        Columns ``xi_j``, ``K^T xi_j = lambda_j xi_j``, unit norm: ``phi_j(x) = xi_j . phi(x)``.
    weights_, mean_, std_, dim_, train_loss_ :
        As every neural forecaster (the weights as one float64 array).
    """

    window = 1

    def __init__(
        self,
        latent: int = 3,
        hidden: int = 32,
        depth: int = 2,
        decoder_depth: int = 0,
        prediction_steps: int = 8,
        reconstruction_weight: float = 1.0,
        linearity_weight: float = 1.0,
        prediction_weight: float = 1.0,
        steps: int = 2000,
        batch_size: int = 128,
        lr: float = 3e-3,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.latent, self.hidden, self.depth, self.decoder_depth = latent, hidden, depth, decoder_depth
        self.prediction_steps = prediction_steps
        self.reconstruction_weight, self.linearity_weight = reconstruction_weight, linearity_weight
        self.prediction_weight = prediction_weight
        self.steps, self.batch_size, self.lr, self.device, self.seed = steps, batch_size, lr, device, seed
        self._check_params()

    @property
    def chunk(self) -> int:  # type: ignore[override]
        """The windows' targets: the next ``prediction_steps`` states."""
        return self.prediction_steps

    def _check_params(self) -> None:
        owner = "DeepKoopmanForecaster"
        check_positive_int(owner, latent=self.latent, hidden=self.hidden, depth=self.depth,
                           prediction_steps=self.prediction_steps)
        if isinstance(self.decoder_depth, bool) or not isinstance(self.decoder_depth, int) or self.decoder_depth < 0:
            raise ConfigError(f"{owner} decoder_depth={self.decoder_depth!r} must be an integer >= 0 (0: affine)")
        self._objective()  # the weights' checks
        self._check_common()

    def _module(self, dim: int) -> nn.Module:
        return DeepKoopman(dim, latent=int(self.latent), hidden=int(self.hidden), depth=int(self.depth),
                           decoder_depth=int(self.decoder_depth), steps=int(self.prediction_steps))

    def _objective(self) -> DeepKoopmanLoss:
        return DeepKoopmanLoss(self.reconstruction_weight, self.linearity_weight, self.prediction_weight)

    def fit(self, train: Any, dt: float | None = None) -> DeepKoopmanForecaster:
        super().fit(train, dt)
        k = self._net().koopman_matrix.detach().cpu().numpy().astype(np.float64)
        lam, xi = sorted_eig(k.T)  # right eigenvectors of K^T: the left ones of K
        self.koopman_matrix_ = k
        self.eigenvalues_ = lam
        self.left_eigenvectors_ = (xi / np.linalg.norm(xi, axis=0, keepdims=True)).astype(np.complex128)
        return self

    def _rollout(self, net: nn.Module, window: torch.Tensor, horizon: int) -> torch.Tensor:
        return net.rollout(window[:, -1], int(horizon))  # encode once, iterate K in the latent space

    def eigenfunctions(self, x: Any) -> np.ndarray:
        """The learned eigenfunctions at states ``x [B, D]`` (or ``[D]``) -> ``[B, k]`` (or ``[k]``), complex128.

        ``phi_j(x) = xi_j . phi(z)`` with ``z`` the standardized state; on the training data
        ``phi_j(F(x)) ~ eigenvalues_[j] phi_j(x)`` to the accuracy of the linearity loss.
        """
        self.check_fitted()
        d = int(self.dim_)
        arr = as_float64_array(x, "x", (1, 2), what=f"[B, {d}] or [{d}]")
        if arr.shape[-1] != d:
            raise ShapeError(f"x has {arr.shape[-1]} features but DeepKoopmanForecaster was fitted on D={d}; pass states [B, {d}]")
        z = torch.as_tensor(((np.atleast_2d(arr) - self.mean_) / self.std_).astype(np.float32), device=self.device)
        with torch.no_grad():
            latent = self._net().encode(z).cpu().numpy().astype(np.float64)
        out = latent @ self.left_eigenvectors_
        return out[0] if arr.ndim == 1 else out
