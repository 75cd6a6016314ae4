"""One conformance suite over every registered estimator (the estimator seam of ``sciml.core.estimator``).

The suite runs over every name of ``ESTIMATORS``. Each estimator declares one small case
in ``CASES``: constructor parameters, a fit dataset it must succeed on (written into
``tmp_path`` where it reads a file), an input for ``predict``, and inputs that must fail
(NaN, wrong shape). A newly registered estimator fails ``test_every_registered_estimator_has_a_case``
until it gets one, and then runs the whole suite.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sciml.core.errors import ConfigError, DataError, SciMLError, ShapeError
from sciml.core.estimator import (
    ARRAYS_NAME,
    FORMAT,
    FORMAT_VERSION,
    JSON_NAME,
    AbstractEstimator,
    NotFittedError,
    build_estimator,
    load_estimator,
)
from sciml.core.registry import ESTIMATORS, FORECASTERS
from sciml.data import load_trajectories
from sciml.data.generators import generate
from tests.optional import names_with_peer_skips


@dataclasses.dataclass(frozen=True)
class Case:
    """How the suite exercises one estimator.

    ``data(tmp_path)`` is a fit dataset the estimator must succeed on; ``predict_input(data)``
    an argument of ``predict``; ``nan_data(data)`` and ``wrong_shape_data(data)`` fit inputs
    that must raise DataError and ShapeError; ``wrong_predict_input(data)`` a ``predict``
    argument that must raise ShapeError; ``other_params`` parameters that change the fit.
    """

    params: dict[str, Any]
    other_params: dict[str, Any]
    data: Callable[[Path], Any]
    predict_input: Callable[[Any], Any]
    nan_data: Callable[[Any], Any]
    wrong_shape_data: Callable[[Any], Any]
    wrong_predict_input: Callable[[Any], Any]
    float_state: bool = True  # it learns float arrays (persistence learns only the dimension)


def _linear_file(tmp_path: Path):
    path = tmp_path / "linear.h5"
    generate("linear_ode", path, n=8, n_times=20, dt=0.1, dim=4, seed=0, matrix_seed=3)
    return load_trajectories(path, "train")


def _with_nan(data):
    x = np.array(data.x, copy=True)
    x[1, 3, 2] = np.nan
    return x


CASES: dict[str, Case] = {
    "dmd": Case(
        params={"rank": 3},
        other_params={"rank": 2},
        data=_linear_file,
        predict_input=lambda data: data.x[:, 5],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[:, 5, :2],
    ),
    "edmd": Case(
        params={"dictionary": "monomial:2"},
        other_params={"dictionary": "hermite:2"},
        data=_linear_file,
        predict_input=lambda data: data.x[:, 5],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[:, 5, :2],
    ),
    "resdmd": Case(
        params={"dictionary": "monomial:1", "epsilon": 0.1},
        other_params={"epsilon": 0.2},
        data=_linear_file,
        predict_input=lambda data: data.x[:, 5],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[:, 5, :2],
    ),
    "kedmd": Case(
        params={"kernel": "polynomial:2"},
        other_params={"kernel": "polynomial:1"},
        data=_linear_file,
        predict_input=lambda data: data.x[:, 5],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[:, 5, :2],
    ),
    "hankel_dmd": Case(
        params={"delays": 3},
        other_params={"delays": 2},
        data=_linear_file,
        predict_input=lambda data: data.x[:, :6],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[:, :6, :2],
    ),
    "havok": Case(
        params={"delays": 5, "rank": 4},
        other_params={"rank": 3},
        data=_linear_file,
        predict_input=lambda data: data.x[:, :6],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[:, :6, :2],
    ),
}


def _forecaster_case(name: str) -> Case:
    """The forecasters (every name in FORECASTERS is an estimator too): a few training steps of
    a small network on the linear file, windows of 8 states; ``predict`` forecasts one step
    after a context of 10 states. ``tests/forecast/test_conformance.py`` checks their skill."""
    names = ESTIMATORS.get(name).param_names()
    small = {"steps": 3, "max_steps": 3, "epochs": 1, "window": 8, "sequence_length": 5, "hidden": 4, "warmup": 5,
             "dictionary": "rbf:20", "delays": 4}
    params = {k: v for k, v in small.items() if k in names}
    return Case(
        params=params,
        other_params={"seed": 1},  # every forecaster takes a seed (the protocol's)
        data=_linear_file,
        predict_input=lambda data: data.x[0, :10],
        nan_data=_with_nan,
        wrong_shape_data=lambda data: data.x[..., None],
        wrong_predict_input=lambda data: data.x[0, :10, :2],
        float_state=name != "persistence",
    )


if "darts_tcn" in FORECASTERS.names():  # darts' TCNModel needs chunk < window (8 here): its case forecasts 4 a call
    CASES["darts_tcn"] = dataclasses.replace(
        _forecaster_case("darts_tcn"), params={**_forecaster_case("darts_tcn").params, "chunk": 4}
    )
CASES.update({name: _forecaster_case(name) for name in FORECASTERS.names() if name not in CASES})

NAMES = ESTIMATORS.names()
# the peer adapters (darts_*, rpy_esn) need their library to fit: skipped with the reason where it is not installed
FITTED = names_with_peer_skips(ESTIMATORS, NAMES)


def _case(name: str) -> Case:
    if name not in CASES:
        pytest.fail(f"estimator '{name}' is registered but has no case; add one to CASES in {__file__}")
    return CASES[name]


def _build(name: str) -> AbstractEstimator:
    return build_estimator(name, _case(name).params)


def _fitted(name: str, tmp_path: Path) -> tuple[AbstractEstimator, Any]:
    data = _case(name).data(tmp_path)
    return _build(name).fit(data), data


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, f"not a one-line message: {text!r}"
    return text


def test_every_registered_estimator_has_a_case():
    assert "dmd" in NAMES
    assert set(NAMES) <= set(CASES), f"give every registered estimator a case: {sorted(set(NAMES) - set(CASES))}"


@pytest.mark.parametrize("name", NAMES)
def test_registration_and_get_params_round_trip_through_the_constructor(name):
    cls = ESTIMATORS.get(name)
    assert issubclass(cls, AbstractEstimator) and cls.registered_name == name
    est = _build(name)
    params = est.get_params()
    assert params == {**{k: p.default for k, p in inspect.signature(cls).parameters.items()}, **_case(name).params}
    again = cls(**params)
    assert again.get_params() == params and type(again) is cls
    assert json.loads(json.dumps(params)) == params  # the JSON of a save holds them exactly
    # set_params changes exactly the named values; an unknown name is refused in one line
    est.set_params(**_case(name).other_params)
    assert est.get_params() == {**params, **_case(name).other_params}
    with pytest.raises(ConfigError, match="has no parameter 'not_a_parameter'") as info:
        est.set_params(not_a_parameter=1)
    _one_line(info.value)
    with pytest.raises(ConfigError, match="has no parameter 'not_a_parameter'"):
        build_estimator(name, {"not_a_parameter": 1})


@pytest.mark.parametrize("name", FITTED)
def test_fit_returns_self_and_learned_state_ends_in_underscore(name, tmp_path):
    est = _build(name)
    before = set(vars(est))
    assert not est.is_fitted and not est.learned_state()
    data = _case(name).data(tmp_path)
    assert est.fit(data) is est
    assert est.is_fitted
    new_public = {k for k in set(vars(est)) - before if not k.startswith("_")}
    assert new_public, "fit learned nothing"
    assert all(k.endswith("_") for k in new_public), f"learned attributes without '_': {sorted(new_public)}"
    assert set(est.learned_state()) == new_public
    assert not any(k.endswith("_") for k in est.get_params())
    # the learned state is a deterministic function of params and data
    other = _build(name).fit(data)
    for key, value in est.learned_state().items():
        assert np.array_equal(np.asarray(value), np.asarray(getattr(other, key))), key


@pytest.mark.parametrize("name", FITTED)
def test_use_before_fit_raises_the_one_line_not_fitted_error(name, tmp_path):
    case = _case(name)
    est = _build(name)
    data = case.data(tmp_path)
    message = f"{type(est).__name__} is not fitted; call fit(data) first or load a saved estimator"
    for call in (lambda: est.predict(case.predict_input(data)), lambda: est.evaluate(data), lambda: est.save(tmp_path / "s")):
        with pytest.raises(NotFittedError) as info:
            call()
        assert isinstance(info.value, SciMLError) and _one_line(info.value) == message
    assert not (tmp_path / "s" / JSON_NAME).exists()
    # changing a parameter of a fitted estimator discards its state (it no longer matches)
    est.fit(data)
    est.set_params(**case.params)  # the same values: the state stays
    assert est.is_fitted
    est.set_params(**case.other_params)
    assert not est.is_fitted
    with pytest.raises(NotFittedError):
        est.predict(case.predict_input(data))


@pytest.mark.parametrize("name", FITTED)
def test_save_then_load_gives_identical_predictions_and_a_self_describing_json(name, tmp_path):
    case = _case(name)
    est, data = _fitted(name, tmp_path)
    x = case.predict_input(data)
    expected = est.predict(x)
    metrics = est.evaluate(data)
    assert metrics and all(isinstance(v, float) and np.isfinite(v) for v in metrics.values())
    out = est.save(tmp_path / "saved")
    meta = json.loads((out / JSON_NAME).read_text())
    assert meta["format"] == FORMAT and meta["format_version"] == FORMAT_VERSION
    assert meta["estimator"] == name and meta["params"] == est.get_params()
    env = meta["environment"]
    assert {"sciml", "numpy", "torch", "python"} <= set(env) and env["numpy"] == np.__version__
    sha = getattr(data, "content_sha256", None)
    assert sha and meta["training_data"]["content_sha256"] == sha
    learned_arrays = {k: v for k, v in est.learned_state().items() if isinstance(v, np.ndarray)}
    assert set(meta["arrays"]) == set(learned_arrays)
    for key, value in learned_arrays.items():
        assert meta["arrays"][key] == {"shape": list(value.shape), "dtype": value.dtype.str, "numpy_scalar": False}

    loaded = load_estimator(out)
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    assert loaded.training_data == est.training_data
    assert set(loaded.learned_state()) == set(est.learned_state())
    for key, value in est.learned_state().items():
        got = loaded.learned_state()[key]
        assert type(got) is type(value), key
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and np.array_equal(got, value), key
        else:
            assert got == value, key
    assert np.array_equal(loaded.predict(x), expected)
    assert loaded.evaluate(data) == metrics


@pytest.mark.parametrize("name", FITTED)
def test_float64_is_kept_from_float32_input_through_save(name, tmp_path):
    case = _case(name)
    data = case.data(tmp_path)
    single = dataclasses.replace(data, x=data.x.astype(np.float32)) if dataclasses.is_dataclass(data) else data
    est = _build(name).fit(single)
    floats = {k: v for k, v in est.learned_state().items() if isinstance(v, np.ndarray) and v.dtype.kind in "fc"}
    assert bool(floats) == case.float_state, sorted(est.learned_state())
    assert all(v.dtype in (np.float64, np.complex128) for v in floats.values()), {k: v.dtype for k, v in floats.items()}
    pred = est.predict(np.asarray(case.predict_input(data), dtype=np.float32))
    assert pred.dtype == np.float64
    loaded = load_estimator(est.save(tmp_path / "f64"))
    assert all(getattr(loaded, k).dtype == v.dtype for k, v in floats.items())


@pytest.mark.parametrize("name", FITTED)
def test_nan_input_raises_one_line_data_error_and_wrong_shape_a_shape_error(name, tmp_path):
    case = _case(name)
    data = case.data(tmp_path)
    with pytest.raises(DataError, match="non-finite") as info:
        _build(name).fit(case.nan_data(data))
    _one_line(info.value)
    with pytest.raises(ShapeError) as info:
        _build(name).fit(case.wrong_shape_data(data))
    _one_line(info.value)
    est = _build(name).fit(data)
    with pytest.raises(ShapeError) as info:
        est.predict(case.wrong_predict_input(data))
    _one_line(info.value)
    bad = np.array(case.predict_input(data), dtype=np.float64, copy=True)
    bad.reshape(-1)[0] = np.nan
    with pytest.raises(DataError, match="non-finite") as info:
        est.predict(bad)
    _one_line(info.value)


@pytest.mark.parametrize("name", FITTED)
def test_damaged_saves_raise_one_line_data_errors(name, tmp_path):
    est, _ = _fitted(name, tmp_path)
    good = est.save(tmp_path / "good")
    arrays_bytes = (good / ARRAYS_NAME).read_bytes()
    json_text = (good / JSON_NAME).read_text()

    def damaged(label: str, json_content: str | None, arrays_content: bytes | None) -> Path:
        d = tmp_path / label
        d.mkdir()
        if json_content is not None:
            (d / JSON_NAME).write_text(json_content)
        if arrays_content is not None:
            (d / ARRAYS_NAME).write_bytes(arrays_content)
        return d

    meta = json.loads(json_text)
    flip = min(100, len(arrays_bytes) // 2)  # an empty archive (no learned arrays) is about 22 bytes
    cases = {
        "missing directory": (tmp_path / "nowhere", "no saved estimator"),
        "missing json": (damaged("nojson", None, arrays_bytes), "no saved estimator"),
        "truncated json": (damaged("tjson", json_text[: len(json_text) // 2], arrays_bytes), "is corrupt or truncated"),
        "missing arrays": (damaged("noarr", json_text, None), "arrays.npz is missing"),
        "truncated arrays": (damaged("tarr", json_text, arrays_bytes[: len(arrays_bytes) // 2]), "does not match"),
        "flipped byte": (
            damaged("flip", json_text, arrays_bytes[:flip] + bytes([arrays_bytes[flip] ^ 1]) + arrays_bytes[flip + 1 :]),
            "does not match",
        ),
        "other format": (damaged("fmt", json.dumps({**meta, "format": "x"}), arrays_bytes), "not a sciml estimator"),
        "newer version": (damaged("ver", json.dumps({**meta, "format_version": 99}), arrays_bytes), "format_version 99"),
        "bad params": (
            damaged("par", json.dumps({**meta, "params": {"not_a_parameter": 1}}), arrays_bytes),
            "has no parameter 'not_a_parameter'",
        ),
    }
    for label, (directory, message) in cases.items():
        with pytest.raises(DataError, match=message) as info:
            load_estimator(directory)
        assert "\n" not in str(info.value), label
    # a consistent pair still loads after all that
    assert load_estimator(good).is_fitted
