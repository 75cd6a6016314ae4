"""Neural ODEs behind one interface for three solver backends, and the models built on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError, UnknownNameError
from sciml.numerics.counting import CountingField
from sciml.numerics.rk import SolverError, SolverStats, odeint
from sciml.numerics.tableaus import TABLEAUS, ButcherTableau, get_tableau

__all__ = ["NeuralODE", "MLPVectorField", "NeuralDEModel"]

BACKENDS = ("sciml", "torchdiffeq", "torchdiffeq_adjoint")
"""Solver backends of :class:`NeuralODE`."""

# Our method names -> torchdiffeq's. tsit5 is not in torchdiffeq 0.2.
_TORCHDIFFEQ_METHODS = {"dopri5": "dopri5", "bs3": "bosh3", "rk4": "rk4", "euler": "euler"}
_ADVICE = "regularize the dynamics, loosen rtol/atol"


def _check_choice(kind: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise UnknownNameError(f"unknown {kind} {value!r}; valid names: {', '.join(sorted(valid))}")


class _CountingModule(nn.Module):
    """The one evaluation counter (:class:`sciml.numerics.counting.CountingField`) as an ``nn.Module``.

    torchdiffeq's adjoint collects the parameters of the field it is given, so the wrapped
    field is registered as a submodule here; counting and the recorded times are the
    counter's (``count``, ``times``, ``recording`` read and write through to it).
    """

    def __init__(self, func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.func = func
        self.counter = CountingField(func, record_times=True)

    @property
    def count(self) -> int:
        return self.counter.count

    @property
    def times(self) -> list[float]:
        return self.counter.times

    @property
    def recording(self) -> bool:
        return self.counter.recording

    @recording.setter
    def recording(self, value: bool) -> None:
        self.counter.recording = bool(value)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.counter(t, y)


def _torchdiffeq_steps(
    times: list[float], tableau: ButcherTableau, direction: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, int, int] | None:
    """Reconstruct torchdiffeq's accepted steps from the times at which it evaluated the field.

    torchdiffeq's adaptive solvers evaluate the field twice before the first step (at ``t0``
    and once in the initial-step heuristic), then ``stages - 1`` times per attempted step, at
    ``t0 + c_i h`` for ``i = 1 .. s-1`` (FSAL pairs; the last at ``t0 + h``). An attempt is
    accepted exactly when the next attempt starts after its end (a rejected one is retried
    from the same ``t0`` with a smaller step, so its first stage lies before the old end).
    Returns ``(starts, sizes, n_accepted, n_rejected)``, or ``None`` when the evaluation
    count does not fit that pattern.
    """
    per_attempt = tableau.stages - 1
    body = times[2:]
    if per_attempt < 1 or not body or len(body) % per_attempt:
        return None
    c1 = tableau.c[1]
    attempts = [body[i : i + per_attempt] for i in range(0, len(body), per_attempt)]
    starts, sizes = [], []
    for k, attempt in enumerate(attempts):
        end = attempt[-1]
        accepted = k == len(attempts) - 1 or direction * (attempts[k + 1][0] - end) > 0
        if accepted:
            size = (end - attempt[0]) / (1.0 - c1)
            starts.append(end - size)
            sizes.append(size)
    n_accepted = len(starts)
    as_tensor = lambda values: torch.tensor(values, dtype=dtype, device=device)  # noqa: E731
    return as_tensor(starts), as_tensor(sizes), n_accepted, len(attempts) - n_accepted


class NeuralODE(nn.Module):
    """A neural ordinary differential equation ``dy/dt = func(t, y)`` (Chen et al., NeurIPS 2018).

    After every solve, :attr:`last_stats` tells what the solver did (a
    :class:`~sciml.numerics.SolverStats`): ``nfe`` (function evaluations of the forward
    solve), ``n_accepted``, ``n_rejected``, the start times ``t`` and sizes ``h`` of the
    accepted steps, and with the ``sciml`` backend the per-step ``error_estimate`` (EEst)
    and ``stiffness_estimate`` tensors, still in the autograd graph: what the global
    regularizers penalize.

    Parameters
    ----------
    func : nn.Module (or callable for the non-adjoint backends)
        Vector field ``func(t, y) -> dy/dt``; ``t`` is a 0-dim tensor, ``y`` and the result
        have the state's shape (``[batch, dim]`` for the models of this package).
        ``torchdiffeq_adjoint`` requires an ``nn.Module``: the adjoint integrates the
        gradients of the parameters it finds in ``func.parameters()``; a plain function
        closing over tensors would silently get no gradient, so it is refused.
    backend : {"sciml", "torchdiffeq", "torchdiffeq_adjoint"}
        ``sciml``: our instrumented Runge-Kutta solver, backpropagated through the steps
        (discretize-then-optimize: memory grows with the number of steps; the only backend
        recording EEst and stiffness per step). ``torchdiffeq``: ``torchdiffeq.odeint``,
        backpropagated through the steps. ``torchdiffeq_adjoint``:
        ``torchdiffeq.odeint_adjoint``, which solves an adjoint ODE backward in time:
        constant memory in the number of steps, but it does not save time (the backward
        solve costs about as much as the forward one, often more).
    method : {"dopri5", "tsit5", "bs3", "rk4", "euler"}
        ``dopri5`` (Dormand-Prince 5(4)) is a good start; ``tsit5`` is sciml-only; ``bs3``
        (Bogacki-Shampine 3(2)) suits loose tolerances. ``rk4`` and ``euler`` are fixed-step
        and need ``step_size``.
    rtol, atol : float
        Tolerances of the adaptive step-size control. For training, 1e-3 .. 1e-5 is usual.
    t_span : (float, float)
        Integration interval ``(t0, t1)`` used when :meth:`forward` gets no times.
    step_size : float, optional
        Fixed step size (required for ``rk4`` and ``euler``; allowed for the adaptive
        methods with the ``sciml`` backend, which then still records EEst per step).
    max_steps : int
        Most steps per solve (sciml: accepted plus rejected in total; torchdiffeq: per output
        interval). Beyond it a :class:`~sciml.numerics.SolverError` is raised.
    min_step : float
        Smallest adaptive step size (sciml backend); torchdiffeq stops at its own underflow.

    Raises
    ------
    sciml.core.errors.UnknownNameError
        For an unknown backend or method, or a method the backend lacks; the message lists
        the valid names.

    Examples
    --------
    >>> import torch
    >>> from sciml.nde import NeuralODE
    >>> field = torch.nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = field.weight.copy_(torch.tensor([[0.0, 1.0], [-1.0, 0.0]]))
    >>> ode = NeuralODE(lambda t, y: field(y), rtol=1e-6, atol=1e-8)
    >>> y1 = ode(torch.tensor([[1.0, 0.0]]))  # rotation by 1 radian
    >>> [round(v, 4) for v in y1[0].tolist()]
    [0.5403, -0.8415]
    >>> ode.last_stats.nfe > 0 and ode.last_stats.n_accepted == len(ode.last_stats.h)
    True
    """

    def __init__(
        self,
        func: nn.Module | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        backend: str = "sciml",
        method: str = "dopri5",
        rtol: float = 1e-4,
        atol: float = 1e-6,
        t_span: tuple[float, float] = (0.0, 1.0),
        step_size: float | None = None,
        max_steps: int = 10_000,
        min_step: float = 0.0,
    ):
        super().__init__()
        _check_choice("NeuralODE backend", backend, BACKENDS)
        valid_methods = tuple(TABLEAUS) if backend == "sciml" else tuple(_TORCHDIFFEQ_METHODS)
        if method not in valid_methods:
            raise UnknownNameError(
                f"method {method!r} is not available with backend {backend!r}; valid names: "
                f"{', '.join(sorted(valid_methods))}"
            )
        self.tableau = get_tableau(method)
        if step_size is None and not self.tableau.is_adaptive:
            raise ConfigError(f"method {method!r} has no error estimator: give step_size= for fixed steps")
        if step_size is not None and backend != "sciml" and self.tableau.is_adaptive:
            raise ConfigError(
                f"step_size with the adaptive method {method!r} is only supported by backend 'sciml'; "
                "use method='rk4' or 'euler' for fixed steps with torchdiffeq"
            )
        if backend == "torchdiffeq_adjoint" and not isinstance(func, nn.Module):
            raise ConfigError(
                "backend 'torchdiffeq_adjoint' needs func to be an nn.Module (the adjoint integrates the "
                "gradients of func.parameters()); wrap the function in an nn.Module"
            )
        if len(t_span) != 2 or not t_span[0] != t_span[1]:
            raise ConfigError(f"t_span must be two different times (t0, t1), got {t_span}")
        if backend != "sciml":
            import torchdiffeq  # noqa: F401  (a missing dependency fails here, at construction)
        self.func = func
        self.backend = backend
        self.method = method
        self.rtol, self.atol = float(rtol), float(atol)
        self.t_span = (float(t_span[0]), float(t_span[1]))
        self.step_size = step_size
        self.max_steps = int(max_steps)
        self.min_step = float(min_step)
        self.last_stats: SolverStats | None = None
        self.last_times: torch.Tensor | None = None
        self._last_counter: _CountingModule | None = None
        self._forward_nfe = 0

    def __getstate__(self) -> dict:
        # The last solve's statistics hold tensors inside the autograd graph, which neither
        # pickle nor deepcopy accept; they describe one solve, not the model, so copies drop them.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.update(last_stats=None, last_times=None, _last_counter=None, _forward_nfe=0)
        return state

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}, method={self.method!r}, rtol={self.rtol:g}, atol={self.atol:g}, t_span={self.t_span}"

    @property
    def nfe_backward(self) -> int:
        """Evaluations of ``func`` since the last forward solve ended: the adjoint's backward solve.

        0 for the backends that backpropagate through the stored steps.
        """
        if self._last_counter is None:
            return 0
        return self._last_counter.count - self._forward_nfe

    def solve(self, y0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Integrate from ``y0`` at ``times[0]`` and return the states at ``times``.

        Parameters
        ----------
        y0 : Tensor, shape [*state]
        times : Tensor, shape [n_times]
            Strictly monotone output times; ``times[0]`` is the start.

        Returns
        -------
        Tensor, shape [n_times, *state]

        Raises
        ------
        sciml.numerics.SolverError
            When the step size underflows or the step limit is reached, whatever the backend.
        """
        times = torch.as_tensor(times, device=y0.device)
        if not times.is_floating_point():
            times = times.to(y0.dtype)
        self.last_times = times.detach()
        if self.backend == "sciml":
            ys, stats = odeint(
                self.func,
                y0,
                times,
                method=self.tableau,
                rtol=self.rtol,
                atol=self.atol,
                step_size=self.step_size,
                max_steps=self.max_steps,
                min_step=self.min_step,
            )
            self._last_counter = None
            self.last_stats = stats
            return ys
        return self._solve_torchdiffeq(y0, times)

    def _solve_torchdiffeq(self, y0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        import torchdiffeq

        counter = _CountingModule(self.func)
        options = {"max_num_steps": self.max_steps}
        if self.step_size is not None:
            options = {"step_size": self.step_size}
        kwargs = {"rtol": self.rtol, "atol": self.atol, "method": _TORCHDIFFEQ_METHODS[self.method], "options": options}
        try:
            if self.backend == "torchdiffeq_adjoint":
                ys = torchdiffeq.odeint_adjoint(counter, y0, times, **kwargs)
            else:
                ys = torchdiffeq.odeint(counter, y0, times, **kwargs)
        except AssertionError as exc:  # torchdiffeq reports underflow and max_num_steps with asserts
            reached = counter.times[-1] if counter.times else float(times[0])
            raise SolverError(
                f"{self.backend} {self.method}: {exc} at t={reached:.6g} before reaching "
                f"t={float(times[-1]):.6g}; {_ADVICE}, or raise max_steps"
            ) from None
        counter.recording = False
        self._last_counter = counter
        self._forward_nfe = counter.count
        direction = 1.0 if float(times[-1]) > float(times[0]) else -1.0
        steps = None
        if self.tableau.is_adaptive:
            steps = _torchdiffeq_steps(counter.times, self.tableau, direction, times.dtype, y0.device)
        if steps is not None:
            starts, sizes, n_accepted, n_rejected = steps
        else:  # fixed steps: one evaluation per stage and step
            starts = sizes = None
            n_accepted, n_rejected = counter.count // self.tableau.stages, 0
        self.last_stats = SolverStats(
            method=self.method,
            t=starts,
            h=sizes,
            error_estimate=None,
            stiffness_estimate=None,
            nfe=counter.count,
            n_accepted=n_accepted,
            n_rejected=n_rejected,
        )
        return ys

    def forward(self, y0: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """Solve from ``y0``.

        Parameters
        ----------
        y0 : Tensor, shape [batch, dim] (any shape for ``func``)
            State at ``t[0]`` (or at ``t_span[0]``).
        t : Tensor, shape [n_times], optional
            Output times. Without them, the state at ``t_span[1]`` is returned.

        Returns
        -------
        Tensor
            ``y(t1)`` of ``y0``'s shape, or the trajectory ``[n_times, *y0.shape]`` at ``t``.
        """
        if t is None:
            return self.solve(y0, torch.tensor(self.t_span, dtype=y0.dtype, device=y0.device))[-1]
        return self.solve(y0, t)


_ACTIVATIONS = {"tanh": nn.Tanh, "softplus": nn.Softplus, "relu": nn.ReLU, "silu": nn.SiLU}


class MLPVectorField(nn.Module):
    """A multilayer perceptron vector field ``f(t, y)`` for neural ODEs and SDEs.

    Parameters
    ----------
    dim : int
        State dimension; input and output have shape ``[batch, dim]``.
    hidden : int
        Width of the hidden layers; 32 to 128 is typical.
    depth : int
        Number of hidden layers (>= 1).
    activation : {"tanh", "softplus", "relu", "silu"}
        A smooth activation (tanh, softplus) keeps the field smooth for the adaptive solver.
    time_dependent : bool
        Feed ``t`` as an extra input (non-autonomous field).
    final_activation : str, optional
        Activation applied to the output, e.g. ``"softplus"`` for a positive SDE diffusion.
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "tanh",
        time_dependent: bool = False,
        final_activation: str | None = None,
    ):
        super().__init__()
        _check_choice("activation", activation, tuple(_ACTIVATIONS))
        if final_activation is not None:
            _check_choice("activation", final_activation, tuple(_ACTIVATIONS))
        if depth < 1 or hidden < 1 or dim < 1:
            raise ConfigError(f"MLPVectorField needs dim, hidden, depth >= 1, got {dim}, {hidden}, {depth}")
        self.time_dependent = bool(time_dependent)
        layers: list[nn.Module] = []
        width = dim + int(self.time_dependent)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        if final_activation is not None:
            layers.append(_ACTIVATIONS[final_activation]())
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.time_dependent:
            y = torch.cat([y, t.to(y.dtype).expand(*y.shape[:-1], 1)], dim=-1)
        return self.net(y)


class NeuralDEModel(nn.Module):
    """``decoder(dynamics(encoder(x)))``: the shape the NDE objectives train.

    The objectives call :meth:`encode`, then ``dynamics`` (a :class:`NeuralODE` or
    :class:`~sciml.nde.NeuralSDE`, through a regularizer), then :meth:`decode`.

    Parameters
    ----------
    encoder : nn.Module
        ``x [batch, in] -> y0 [batch, state]``; e.g. a linear map, or zero-padding for an
        augmented neural ODE (Dupont et al. 2019).
    dynamics : NeuralODE or NeuralSDE
    decoder : nn.Module
        ``y(t1) [batch, state] -> output``; e.g. a linear classification head.
    """

    def __init__(self, encoder: nn.Module, dynamics: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.dynamics, self.decoder = encoder, dynamics, decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.dynamics(self.encode(x)))


class _Augment(nn.Module):
    """Append ``extra`` zero channels (augmented neural ODE, Dupont et al. NeurIPS 2019)."""

    def __init__(self, extra: int):
        super().__init__()
        self.extra = int(extra)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.new_zeros(*x.shape[:-1], self.extra)], dim=-1)


def node_classifier(
    in_features: int,
    n_classes: int,
    *,
    state_dim: int | None = None,
    augment: int = 0,
    hidden: int = 32,
    depth: int = 2,
    activation: str = "tanh",
    time_dependent: bool = False,
    **ode_kwargs,
) -> NeuralDEModel:
    """A neural-ODE classifier: encoder, MLP vector field, linear head.

    With ``state_dim`` the encoder is a linear map to that dimension; otherwise the input is
    padded with ``augment`` zeros (``augment=0``: the plain neural ODE on the input space).
    ``ode_kwargs`` go to :class:`NeuralODE` (``backend``, ``method``, ``rtol``, ...).
    """
    if state_dim is not None:
        encoder: nn.Module = nn.Linear(in_features, state_dim)
    else:
        encoder = _Augment(augment) if augment else nn.Identity()
        state_dim = in_features + augment
    field = MLPVectorField(state_dim, hidden, depth, activation, time_dependent)
    return NeuralDEModel(encoder, NeuralODE(field, **ode_kwargs), nn.Linear(state_dim, n_classes))


def neural_ode(
    dim: int, *, hidden: int = 32, depth: int = 2, activation: str = "tanh", time_dependent: bool = False, **ode_kwargs
) -> NeuralODE:
    """A :class:`NeuralODE` with an :class:`MLPVectorField` (for trajectory regression)."""
    return NeuralODE(MLPVectorField(dim, hidden, depth, activation, time_dependent), **ode_kwargs)
