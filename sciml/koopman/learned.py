"""Learned (neural) observables for EDMD: EDMD with dictionary learning (Li, Dietrich, Bollt, Kevrekidis 2017).

The dictionary is ``psi(x) = [1, x, h_theta(x)]``: the constant, the state itself and ``N``
outputs of a tanh MLP ``h_theta`` of the standardized state, each output standardized by its
mean and standard deviation on the training states. Training alternates

(a) the Koopman matrix of the current dictionary, the Tikhonov-regularized least-squares
    EDMD solve ``K = argmin sum_m w_m |psi(y_m) - psi(x_m) K|^2 + ridge |K|^2``, and
(b) ``inner_steps`` Adam steps on ``theta`` with ``K`` fixed, on the same residual
    ``sum_m w_m |psi(y_m) - psi(x_m) K|^2``.

Why the features are standardized: the residual is not scale invariant, and an MLP whose
outputs shrink towards constants lowers it without learning anything (the constant is in
the dictionary, so constant features are predicted exactly). With every learned feature of
unit variance on the data (the statistics are differentiable functions of ``theta`` during
training and stored after it) that collapse is impossible; an affine change of a feature
does not change the span EDMD uses, since the constant is in the dictionary.

Everything runs in float64 with plain torch (the koopman layer is below
:mod:`sciml.training`), on any device, deterministically from ``seed`` (full-batch
gradients, the initialisation drawn in a forked RNG). The trained weights come back as
float64 numpy arrays and :func:`mlp_features` evaluates the same network in numpy, so an
estimator that stores them rebuilds the dictionary exactly without torch state.

Reference
---------
Q. Li, F. Dietrich, E. M. Bollt, I. G. Kevrekidis, "Extended dynamic mode decomposition
with dictionary learning: a data-driven adaptive spectral decomposition of the Koopman
operator", Chaos 27 (2017) 103111.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["mlp_features", "train_neural_dictionary"]


def mlp_features(z: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The MLP ``[M, D] -> [M, N]`` in numpy float64: tanh after every layer but the last.

    >>> layers = [(np.eye(2), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))]
    >>> mlp_features(np.array([[0.0, 0.0]]), layers).tolist()
    [[0.0]]
    """
    h = np.asarray(z, dtype=np.float64)
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.tanh(h)
    return h


def _network(dim: int, n_features: int, hidden: int, depth: int) -> torch.nn.Sequential:
    sizes = [dim] + [hidden] * depth + [n_features]
    mods: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods)


def train_neural_dictionary(
    z_x: np.ndarray,
    z_y: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    n_features: int,
    hidden: int,
    depth: int,
    iterations: int,
    inner_steps: int,
    lr: float,
    ridge: float,
    seed: int,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Train the MLP of a neural dictionary on snapshot pairs by EDMD-DL's alternation.

    Parameters
    ----------
    z_x, z_y : ndarray ``[M, D]``
        The standardized states of the pairs (the network's input).
    x, y : ndarray ``[M, D]``
        The states themselves (the dictionary's linear part).
    weights : ndarray ``[M]``
        Quadrature weights summing to 1.
    n_features, hidden, depth : int
        Outputs, width and hidden layers of the tanh MLP.
    iterations, inner_steps : int
        Outer iterations (one K solve each) and Adam steps per K solve.
    lr, ridge : float
        Adam's learning rate; the Tikhonov weight of the K solve.
    seed : int
        The initialisation (drawn in a forked torch RNG: the caller's stream is untouched).
    device : str

    Returns
    -------
    dict of str to ndarray (float64)
        ``weight_i [in, out]``, ``bias_i [out]`` for each layer, ``feature_mean [N]`` and
        ``feature_std [N]`` (the weighted statistics of the outputs on ``z_x``), and
        ``loss_history [iterations]`` (the weighted residual after each K solve).

    Cost: ``iterations x inner_steps`` forward and backward passes over the ``M`` pairs,
    plus one QR of ``[M + K, K]`` (``K = 1 + D + N``) per iteration.
    """
    dev = torch.device(device)
    f64 = torch.float64
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = _network(z_x.shape[1], n_features, hidden, depth).to(dtype=f64)
    net = net.to(dev)
    zx, zy = (torch.as_tensor(a, dtype=f64, device=dev) for a in (z_x, z_y))
    xs, ys = (torch.as_tensor(a, dtype=f64, device=dev) for a in (x, y))
    w = torch.as_tensor(weights, dtype=f64, device=dev)
    sw = torch.sqrt(w)[:, None]
    ones = torch.ones(zx.shape[0], 1, dtype=f64, device=dev)
    k = 1 + x.shape[1] + n_features
    reg = torch.eye(k, dtype=f64, device=dev) * float(ridge) ** 0.5
    zeros = torch.zeros(k, k, dtype=f64, device=dev)

    def lifted() -> tuple[torch.Tensor, torch.Tensor]:
        hx, hy = net(zx), net(zy)
        mean = (w[:, None] * hx).sum(0)
        std = torch.sqrt((w[:, None] * (hx - mean) ** 2).sum(0)).clamp_min(torch.finfo(f64).tiny)
        return (
            torch.cat([ones, xs, (hx - mean) / std], dim=1),
            torch.cat([ones, ys, (hy - mean) / std], dim=1),
        )

    opt = torch.optim.Adam(net.parameters(), lr=float(lr))
    history = np.empty(int(iterations))
    for it in range(int(iterations)):
        for inner in range(int(inner_steps)):
            px, py = lifted()
            if inner == 0:  # (a): K of the current dictionary (no gradient flows through it)
                with torch.no_grad():
                    a = torch.cat([sw * px, reg])
                    b = torch.cat([sw * py, zeros])
                    # the ridge rows give full column rank; Householder QR, not lstsq: LAPACK's gelsy
                    # (torch.linalg.lstsq on CPU) differs in the last bits from call to call
                    q, r = torch.linalg.qr(a)
                    koopman = torch.linalg.solve_triangular(r, q.T @ b, upper=True)
            loss = (w[:, None] * (py - px @ koopman) ** 2).sum()  # (b): Adam on theta with K fixed
            if inner == 0:
                history[it] = float(loss.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    out: dict[str, np.ndarray] = {}
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for i, lin in enumerate(linears):
        out[f"weight_{i}"] = lin.weight.detach().T.contiguous().cpu().numpy().astype(np.float64)
        out[f"bias_{i}"] = lin.bias.detach().cpu().numpy().astype(np.float64)
    with torch.no_grad():
        hx = net(zx)
        mean = (w[:, None] * hx).sum(0)
        std = torch.sqrt((w[:, None] * (hx - mean) ** 2).sum(0))
    out["feature_mean"] = mean.cpu().numpy().astype(np.float64)
    std_np = std.cpu().numpy().astype(np.float64)
    out["feature_std"] = np.where(std_np > 0, std_np, 1.0)
    out["loss_history"] = history
    return out
