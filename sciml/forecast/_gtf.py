"""Piecewise-linear RNNs and generalized teacher forcing (GTF), after Hess et al. (ICML 2023).

Hess, Monfared, Brenner and Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics", ICML 2023. The models, the forcing and the estimates of ``alpha`` follow the
paper and the facts of its Julia code (DurstewitzLab/GTF-shPLRNN); the code here is ours.

Models (:class:`ShallowPLRNN`, :class:`PLRNN`) map a latent state ``z [..., M]`` to the next
one; the first ``N`` latent dimensions are the observations (identity observation model),
and the other ``M - N`` start from a learned linear map of the first observation.

**GTF.** Along a training sequence ``x_0 .. x_T`` the latent state is pulled towards the
data after every step: ``z_t <- alpha z~_t + (1 - alpha) z_t`` on the observed dimensions
(``z~_t`` is the data-inferred state: ``x_t`` there), the prediction ``z_t`` before the
pull is scored by the MSE against ``x_t``. Backpropagation through the forced recursion
multiplies ``(1 - alpha) J_t`` instead of ``J_t``, so with ``alpha = 1 - 1/sigma`` and
``sigma`` at least the geometric-mean growth of ``||J_t||`` along the sequence, the norm of
every product of Jacobians is at most 1 and the gradient stays bounded for any ``T``
(the paper's Theorem; ``alpha = 0`` is plain BPTT, ``alpha = 1`` plain teacher forcing).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.core.objectives import AbstractObjective
from sciml.core.registry import OBJECTIVES

__all__ = [
    "AbstractPLRNN",
    "ShallowPLRNN",
    "PLRNN",
    "build_plrnn",
    "PLRNN_KINDS",
    "SIGMA_METHODS",
    "ALPHA_METHODS",
    "jacobian_product_sigma",
    "alpha_from_sigma",
    "forced_states",
    "GTF",
]

PLRNN_KINDS = ("shplrnn", "clipped_shplrnn", "plrnn")
SIGMA_METHODS = ("product_upper_bound", "product", "batch_maximum")
ALPHA_METHODS = ("constant", "bound", "annealed")


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).mul_(bound).to(dtype)


def _normalized_positive_definite(m: int, gen: torch.Generator) -> torch.Tensor:
    """``K / lambda_max(K)``, ``K = R^T R / M + I`` (Talathi & Vartak 2016): eigenvalues in (0, 1]."""
    r = torch.randn(m, m, generator=gen, dtype=torch.float64)
    k = r.T @ r / m + torch.eye(m, dtype=torch.float64)
    return k / torch.linalg.eigvalsh(k).abs().max()


class AbstractPLRNN(nn.Module):
    """Common part of the PLRNNs: identity observation of the first ``dim`` latent units.

    Parameters
    ----------
    dim : int
        ``N``, the observed dimensions (the first ``N`` latent units are read out).
    latent : int
        ``M >= N``, the latent dimensions. For ``M > N`` a learned matrix ``L [M-N, N]``
        gives the unobserved units' initial state ``L x_0`` (Brenner et al. 2022).
    gen : torch.Generator
        Draws the initialisation (the subclasses seed a private one: the global RNG is not touched).
    dtype : torch.dtype
    """

    def __init__(self, dim: int, latent: int, *, gen: torch.Generator, dtype: torch.dtype = torch.float32):
        super().__init__()
        for name, value in (("dim", dim), ("latent", latent)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"PLRNN {name}={value!r} must be a positive integer")
        if latent < dim:
            raise ConfigError(
                f"PLRNN latent={latent} is smaller than the observed dim={dim}; the identity observation reads the "
                f"first dim latent units: use latent >= {dim}"
            )
        self.dim, self.latent = int(dim), int(latent)
        if latent > dim:
            bound = math.sqrt(6.0 / latent)  # Glorot uniform on [M-N, N] (fan_in + fan_out = M), as the paper's code
            self.L = nn.Parameter(_uniform((latent - dim, dim), bound, gen, dtype))
        else:
            self.register_parameter("L", None)

    # ------------------------------------------------------------------ the map
    def step(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``z [..., M] -> z_next [..., M]``."""
        raise NotImplementedError  # AbstractPLRNN: subclasses implement it

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``dF/dz`` at ``z [..., M]``: ``[..., M, M]`` (analytic, piecewise constant)."""
        raise NotImplementedError  # AbstractPLRNN: subclasses implement it

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.step(z)

    # ------------------------------------------------------------------ observation
    def init_state(self, x: torch.Tensor) -> torch.Tensor:
        """The latent state of an observation ``x [..., N]``: ``[x, L x]`` (``[..., M]``)."""
        if x.shape[-1] != self.dim:
            raise ShapeError(f"PLRNN observes {self.dim} dimensions, got states of {x.shape[-1]}")
        if self.L is None:
            return x
        return torch.cat([x, x @ self.L.T], dim=-1)

    def observe(self, z: torch.Tensor) -> torch.Tensor:
        """The observation of latent states ``z [..., M]``: the first ``N`` units."""
        return z[..., : self.dim]

    @torch.no_grad()
    def generate(self, z0: torch.Tensor, steps: int) -> torch.Tensor:
        """Free run: the ``steps`` latent states after ``z0 [B, M]``, ``[B, steps, M]``."""
        out, z = [], z0
        for _ in range(int(steps)):
            z = self.step(z)
            out.append(z)
        return torch.stack(out, dim=1)

    def norm_upper_bound(self) -> torch.Tensor:  # pragma: no cover - abstract
        """An upper bound of ``||J(z)||_2`` over all ``z`` (from the parameters alone)."""
        raise NotImplementedError  # AbstractPLRNN: subclasses implement it


class ShallowPLRNN(AbstractPLRNN):
    """Shallow PLRNN (shPLRNN): ``z' = A z + W1 relu(W2 z + h2) + h1`` (Hess et al. 2023, eq. 6).

    ``A`` is diagonal ``[M]``, ``W1 [M, H]``, ``W2 [H, M]``, ``h1 [M]``, ``h2 [H]``. The
    clipped variant (``clipped=True``) uses ``relu(W2 z + h2) - relu(W2 z)``, a bounded
    nonlinearity: orbits stay bounded when ``max |A| < 1``.

    Initialisation (the paper's code): ``A`` the diagonal of a normalized positive definite
    matrix, ``W1 ~ U(+-1/sqrt(H))``, ``W2 ~ U(+-1/sqrt(M))``, ``h1 = 0``, ``h2 = 0``
    (clipped: ``h2 ~ U(+-1/sqrt(H))``, else the clipped nonlinearity starts at zero).

    Parameters
    ----------
    dim, latent, dtype
        See :class:`AbstractPLRNN`.
    seed : int
        Seeds the initialisation (a private generator: the global RNG is not touched).
    hidden : int
        ``H``, the width of the hidden layer; the paper reconstructs Lorenz-63 with ``M = 3``
        and tens to a hundred hidden units.
    clipped : bool
    """

    def __init__(
        self,
        dim: int,
        latent: int,
        hidden: int,
        *,
        clipped: bool = False,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ConfigError(f"shPLRNN hidden={hidden!r} must be a positive integer")
        g = torch.Generator().manual_seed(int(seed))
        super().__init__(dim, latent, gen=g, dtype=dtype)
        m, h = self.latent, int(hidden)
        self.hidden, self.clipped = h, bool(clipped)
        self.A = nn.Parameter(torch.diagonal(_normalized_positive_definite(m, g)).clone().to(dtype))
        self.W1 = nn.Parameter(_uniform((m, h), 1 / math.sqrt(h), g, dtype))
        self.W2 = nn.Parameter(_uniform((h, m), 1 / math.sqrt(m), g, dtype))
        self.h1 = nn.Parameter(torch.zeros(m, dtype=dtype))
        h2 = _uniform((h,), 1 / math.sqrt(h), g, dtype) if clipped else torch.zeros(h, dtype=dtype)
        self.h2 = nn.Parameter(h2)

    def step(self, z: torch.Tensor) -> torch.Tensor:
        pre = z @ self.W2.T
        act = F.relu(pre + self.h2)
        if self.clipped:
            act = act - F.relu(pre)
        return self.A * z + act @ self.W1.T + self.h1

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        pre = z @ self.W2.T
        slope = (pre + self.h2 > 0).to(z.dtype)
        if self.clipped:
            slope = slope - (pre > 0).to(z.dtype)
        # A + W1 diag(slope) W2, batched
        return torch.diag_embed(self.A.expand_as(z)) + (self.W1 * slope.unsqueeze(-2)) @ self.W2

    def norm_upper_bound(self) -> torch.Tensor:
        return self.A.abs().max() + torch.linalg.matrix_norm(self.W1, ord=2) * torch.linalg.matrix_norm(self.W2, ord=2)


class PLRNN(AbstractPLRNN):
    """Vanilla PLRNN: ``z' = A z + W relu(z) + h`` with diagonal ``A`` and off-diagonal ``W``
    (Durstewitz 2017); ``A`` and ``W`` start as the diagonal and off-diagonal of a normalized
    positive definite matrix, ``h = 0``. The diagonal of ``W`` is held at zero by a mask.
    """

    def __init__(self, dim: int, latent: int, *, seed: int = 0, dtype: torch.dtype = torch.float32):
        g = torch.Generator().manual_seed(int(seed))
        super().__init__(dim, latent, gen=g, dtype=dtype)
        k = _normalized_positive_definite(self.latent, g)
        self.A = nn.Parameter(torch.diagonal(k).clone().to(dtype))
        self.register_buffer("offdiag", 1 - torch.eye(self.latent, dtype=dtype))
        self.W = nn.Parameter((k * (1 - torch.eye(self.latent, dtype=torch.float64))).to(dtype))
        self.h = nn.Parameter(torch.zeros(self.latent, dtype=dtype))

    def step(self, z: torch.Tensor) -> torch.Tensor:
        return self.A * z + F.relu(z) @ (self.W * self.offdiag).T + self.h

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        slope = (z > 0).to(z.dtype)
        return torch.diag_embed(self.A.expand_as(z)) + (self.W * self.offdiag) * slope.unsqueeze(-2)

    def norm_upper_bound(self) -> torch.Tensor:
        return self.A.abs().max() + torch.linalg.matrix_norm(self.W * self.offdiag, ord=2)


def build_plrnn(kind: str, dim: int, latent: int, hidden: int, *, seed: int = 0, dtype: torch.dtype = torch.float32):
    """A PLRNN by name: ``shplrnn``, ``clipped_shplrnn`` (``hidden`` units) or ``plrnn`` (``hidden`` unused)."""
    if kind == "shplrnn":
        return ShallowPLRNN(dim, latent, hidden, seed=seed, dtype=dtype)
    if kind == "clipped_shplrnn":
        return ShallowPLRNN(dim, latent, hidden, clipped=True, seed=seed, dtype=dtype)
    if kind == "plrnn":
        return PLRNN(dim, latent, seed=seed, dtype=dtype)
    raise ConfigError(f"unknown PLRNN model '{kind}'; use one of {', '.join(PLRNN_KINDS)}")


# ---------------------------------------------------------------------------- the bound


def forced_states(model: AbstractPLRNN, x: torch.Tensor) -> torch.Tensor:
    """The data-inferred latent states ``z~_t`` of sequences ``x [B, T, N]``: ``[B, T, M]``.

    The observed units are the data; the unobserved units (``M > N``) start at ``L x_0`` and
    follow the model driven by the data (teacher forcing with ``alpha = 1``).
    """
    z = model.init_state(x[:, 0])
    states = [z]
    n = model.dim
    for t in range(1, x.shape[1]):
        z = model.step(z)
        z = torch.cat([x[:, t], z[:, n:]], dim=-1) if z.shape[-1] > n else x[:, t]
        states.append(z)
    return torch.stack(states, dim=1)


def jacobian_product_sigma(
    model: AbstractPLRNN, states: torch.Tensor, method: str = "product_upper_bound"
) -> torch.Tensor:
    """Per-step growth ``sigma`` of the product of Jacobians along each sequence, ``[B]``.

    Parameters
    ----------
    model : AbstractPLRNN
    states : Tensor ``[B, T, M]``
        Latent states along ``B`` sequences (:func:`forced_states` of the data).
    method : str
        ``"product_upper_bound"`` (the paper's aGTF estimate): the geometric mean over
        ``t`` of ``||J(z_t)||_2``, an upper bound of ``sigma_1(J_T ... J_1)^(1/T)``;
        ``"product"``: ``sigma_1(J_T ... J_1)^(1/T)`` itself, the product accumulated in
        float64 with its norm factored out at every step (no overflow for long ``T``);
        ``"batch_maximum"``: the largest ``||J(z_t)||_2`` (an upper bound of both).

    Returns
    -------
    Tensor ``[B]``, float64, detached.
    """
    if method not in SIGMA_METHODS:
        raise ConfigError(f"unknown sigma method '{method}'; use one of {', '.join(SIGMA_METHODS)}")
    if states.ndim != 3:
        raise ShapeError(f"states must be [B, T, M], got shape {tuple(states.shape)}")
    with torch.no_grad():
        jac = model.jacobian(states).to(torch.float64)  # [B, T, M, M]
        if method == "product":
            b, t, m, _ = jac.shape
            prod = torch.eye(m, dtype=torch.float64, device=jac.device).expand(b, m, m)
            log_scale = torch.zeros(b, dtype=torch.float64, device=jac.device)
            for k in range(t):
                prod = jac[:, k] @ prod
                s = torch.linalg.matrix_norm(prod, ord=2)
                # a singular product stays singular: keep its log at -inf rather than dividing by 0
                log_scale = log_scale + torch.log(s)
                prod = prod / torch.where(s > 0, s, torch.ones_like(s))[:, None, None]
            return torch.exp(log_scale / t)
        norms = torch.linalg.matrix_norm(jac, ord=2)  # [B, T]
        if method == "batch_maximum":
            return norms.max(dim=1).values
        return torch.exp(torch.log(norms).mean(dim=1))


def alpha_from_sigma(sigma: float) -> float:
    """The smallest forcing that bounds the gradient: ``max(0, 1 - 1/sigma)``.

    >>> alpha_from_sigma(2.0), alpha_from_sigma(0.5)
    (0.5, 0.0)
    """
    sigma = float(sigma)
    return max(0.0, 1.0 - 1.0 / sigma) if sigma > 0 else 0.0


# ---------------------------------------------------------------------------- the objective


@OBJECTIVES.register("gtf")
class GTF(AbstractObjective):
    """Generalized teacher forcing: the MSE of a PLRNN's predictions along forced sequences.

    Batches: ``x [B, T+1, N]`` (sequences of observations; ``y``, when present, is not
    needed). The latent state starts at ``init_state(x_0)``; for ``t = 1..T`` the model
    predicts ``z_t = F(z_{t-1})`` (scored against ``x_t``), then the observed units are
    pulled to the data, ``z_t[:N] <- alpha x_t + (1 - alpha) z_t[:N]``. Returns ``loss``
    (MSE plus the optional regularization), ``mse``, ``alpha`` and ``sigma`` (the last
    estimate; 0 before the first), and ``pred`` (the predictions ``[B, T, N]``).

    Parameters
    ----------
    alpha : float or None
        The forcing in ``[0, 1)`` (``alpha_method="constant"``; 0 is BPTT), or the initial
        forcing of ``"annealed"`` (``[0, 1]``; the paper starts at 1). ``None`` with
        ``"bound"``.
    alpha_method : {"constant", "bound", "annealed"}
        ``"constant"``: ``alpha`` throughout. ``"bound"``: every ``alpha_update_interval``
        optimizer steps ``alpha = 1 - 1/sigma`` of the current model on the current batch
        (``sigma`` the largest over its sequences). ``"annealed"`` (aGTF): the same
        estimate ``a``; ``alpha <- a`` when ``a > alpha``, else ``alpha <- gamma alpha +
        (1 - gamma) a`` with ``gamma = alpha_decay``: forcing rises at once when the
        model's Jacobians grow and decays slowly when they shrink.
    sigma_method : str
        How ``sigma`` is estimated (:func:`jacobian_product_sigma`); the paper's aGTF uses
        ``"product_upper_bound"``.
    alpha_decay : float
        ``gamma`` of the annealing, in ``(0, 1)``; the paper uses 0.999 over 250 000 steps,
        shorter runs need a faster decay.
    alpha_update_interval : int
        ``k``: optimizer steps between estimates (the paper: 5).
    regularization : float
        ``lambda`` of the paper's L2 penalty ``lambda (||1 - A||^2 + ||W1||^2 + ||W2||^2 +
        ||h1||^2 + ||h2||^2)`` (its default 1e-5 for aGTF); 0 disables it.

    The Trainer's global step arrives through :meth:`begin_step`; ``alpha``, ``sigma`` and
    the step of the last estimate are in :meth:`state_dict`, so a resumed run continues the
    same schedule.
    """

    def __init__(
        self,
        alpha: float | None = 0.0,
        alpha_method: str = "constant",
        *,
        sigma_method: str = "product_upper_bound",
        alpha_decay: float = 0.999,
        alpha_update_interval: int = 5,
        regularization: float = 0.0,
    ):
        if alpha_method not in ALPHA_METHODS:
            raise ConfigError(f"unknown alpha_method '{alpha_method}'; use one of {', '.join(ALPHA_METHODS)}")
        if sigma_method not in SIGMA_METHODS:
            raise ConfigError(f"unknown sigma_method '{sigma_method}'; use one of {', '.join(SIGMA_METHODS)}")
        if alpha_method == "constant":
            check_alpha(alpha, "alpha")
        elif alpha_method == "annealed":
            check_alpha(alpha, "alpha", allow_one=True)
        elif alpha is not None:
            check_alpha(alpha, "alpha")
        if not (isinstance(alpha_decay, (int, float)) and 0 < alpha_decay < 1):
            raise ConfigError(f"alpha_decay={alpha_decay!r} must be in (0, 1); the paper uses 0.999")
        if (
            isinstance(alpha_update_interval, bool)
            or not isinstance(alpha_update_interval, int)
            or alpha_update_interval < 1
        ):
            raise ConfigError(
                f"alpha_update_interval={alpha_update_interval!r} must be a positive integer (the paper: 5)"
            )
        if not (isinstance(regularization, (int, float)) and regularization >= 0):
            raise ConfigError(f"regularization={regularization!r} must be a number >= 0")
        self.alpha_method, self.sigma_method = alpha_method, sigma_method
        self.alpha_decay, self.alpha_update_interval = float(alpha_decay), int(alpha_update_interval)
        self.regularization = float(regularization)
        self.initial_alpha = None if alpha is None else float(alpha)
        self.alpha = 0.0 if alpha is None else float(alpha)
        self.sigma = 0.0
        self.step = 0
        self.updated_at = -1  # the optimizer step of the last estimate
        self._driven = False

    # ------------------------------------------------------------------ schedule state
    def begin_step(self, step: int) -> None:
        self.step, self._driven = int(step), True

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "sigma": self.sigma, "step": self.step, "updated_at": self.updated_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alpha = float(state["alpha"])
        self.sigma = float(state["sigma"])
        self.step = int(state["step"])
        self.updated_at = int(state["updated_at"])

    def config(self) -> dict[str, Any]:
        return {
            "name": "gtf",
            "alpha": self.initial_alpha,
            "alpha_method": self.alpha_method,
            "sigma_method": self.sigma_method,
            "alpha_decay": self.alpha_decay,
            "alpha_update_interval": self.alpha_update_interval,
            "regularization": self.regularization,
        }

    def update_alpha(self, model: AbstractPLRNN, x: torch.Tensor) -> float:
        """Estimate ``sigma`` on the sequences ``x [B, T+1, N]`` and apply the schedule; returns alpha."""
        with torch.no_grad():
            states = forced_states(model, x)[:, 1:]
            sigma = float(jacobian_product_sigma(model, states, self.sigma_method).max())
        estimate = alpha_from_sigma(sigma)
        self.sigma = sigma
        if self.alpha_method == "bound":
            self.alpha = estimate
        elif self.alpha_method == "annealed":
            if estimate > self.alpha:
                self.alpha = estimate
            else:
                self.alpha = self.alpha_decay * self.alpha + (1 - self.alpha_decay) * estimate
        self.updated_at = self.step
        return self.alpha

    # ------------------------------------------------------------------ the loss
    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        if not isinstance(net, AbstractPLRNN):
            raise ConfigError(f"the gtf objective trains a PLRNN (ShallowPLRNN, PLRNN), got {type(net).__name__}")
        x = batch["x"]
        if x.ndim != 3 or x.shape[1] < 2 or x.shape[2] != net.dim:
            raise ShapeError(
                f"gtf batches hold sequences x [B, T+1, {net.dim}] with T >= 1, got shape {tuple(x.shape)}"
            )
        training = torch.is_grad_enabled() and net.training
        if (
            training
            and self.alpha_method != "constant"
            and self.step % self.alpha_update_interval == 0
            and self.updated_at != self.step
        ):
            self.update_alpha(net, x)
        pred = gtf_rollout(model, net, x, self.alpha)
        mse = F.mse_loss(pred, x[:, 1:])
        loss = mse
        if self.regularization > 0:
            loss = loss + self.regularization * _l2_penalty(net)
        if training and not self._driven:
            self.step += 1  # called outside a Trainer: count the training calls
        dev = x.device
        return {
            "loss": loss,
            "mse": mse.detach(),
            "alpha": torch.tensor(self.alpha, dtype=torch.float64, device=dev),
            "sigma": torch.tensor(self.sigma, dtype=torch.float64, device=dev),
            "pred": pred.detach(),
        }

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        return gtf_rollout(model, net, batch["x"], self.alpha)


def gtf_rollout(model: nn.Module, net: AbstractPLRNN, x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Predictions ``[B, T, N]`` of the forced recursion along ``x [B, T+1, N]`` with forcing ``alpha``.

    ``model`` is called for each step (``net`` or its DDP wrapper); ``alpha = 0`` runs free
    from ``init_state(x_0)`` (BPTT), ``alpha = 1`` is classical teacher forcing.
    """
    n = net.dim
    z = net.init_state(x[:, 0])
    preds = []
    for t in range(1, x.shape[1]):
        z = model(z)
        obs = z[:, :n]
        preds.append(obs)
        if alpha != 0.0:
            forced = alpha * x[:, t] + (1.0 - alpha) * obs
            z = torch.cat([forced, z[:, n:]], dim=-1) if z.shape[-1] > n else forced
    return torch.stack(preds, dim=1)


def _l2_penalty(net: AbstractPLRNN) -> torch.Tensor:
    total = (1 - net.A).pow(2).sum()
    for name, p in net.named_parameters():
        if name not in ("A", "L"):
            total = total + p.pow(2).sum()
    return total


def check_alpha(alpha: Any, name: str = "alpha", *, allow_one: bool = False) -> float:
    """``alpha`` as a float in ``[0, 1)`` (``[0, 1]`` with ``allow_one``), or a one-line ConfigError."""
    ok = isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and math.isfinite(alpha)
    top = "1]" if allow_one else "1)"
    if not ok or not (0 <= alpha < 1 or (allow_one and alpha == 1)):
        raise ConfigError(
            f"{name}={alpha!r} must be a number in [0, {top} (0 is BPTT; the bound 1 - 1/sigma_max is always below 1)"
        )
    return float(alpha)
