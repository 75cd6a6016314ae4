"""scikit-learn's 8x8 handwritten digits as a ``samples`` file: the ``digits`` generator.

The 1797 images of ``sklearn.datasets.load_digits`` (the UCI optical recognition of
handwritten digits test set, 8x8 pixels with 17 grey levels 0..16) ship inside the
scikit-learn wheel, so nothing is downloaded. Features are the flattened images scaled to
[0, 1] (divided by 16), labels the digits 0..9.
"""

from __future__ import annotations

import numpy as np

from sciml.core.errors import ConfigError
from sciml.core.registry import GENERATORS
from sciml.data.generators._common import check_parameters, run_batches
from sciml.data.schema import Provenance, SamplesWriter

__all__ = ["digits", "load_digits_arrays"]

N_DIGITS = 1797


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(x [1797, 64] float32 in [0, 1], y [1797] int64)`` from scikit-learn, in its order."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise ConfigError("the digits generator needs scikit-learn: pip install scikit-learn") from None
    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


@GENERATORS.register("digits")
def digits(
    path,
    *,
    n: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 512,
    progress: bool = False,
) -> str:
    """The 8x8 digits (scikit-learn's ``load_digits``): ``x [N, 64]`` float32 in [0, 1], ``y [N]`` int64.

    Parameters
    ----------
    path : path-like
        Output HDF5 file (schema kind ``samples``, ``classes = 10``, ``class_names``
        "0" .. "9", attribute ``image_shape = [8, 8]``: ``x[i].reshape(8, 8)`` is the image).
    n : int, optional
        A subset of ``n`` images (1 .. 1797), taken in the order of a permutation drawn
        with ``seed``; None keeps all 1797 in scikit-learn's order.
    seed : int
        Seed of the subset's permutation (unused without ``n``).
    device : str
        Unused (nothing is computed); accepted like every generator's.
    batch_size : int
        Images written per batch.
    progress : bool
        Show a tqdm progress bar over batches.

    Returns
    -------
    str
        ``content_sha256`` of the written file.
    """
    check_parameters(
        "digits",
        {
            "n": (n is None or 1 <= n <= N_DIGITS, f"must be in 1..{N_DIGITS}, or None for all images"),
            "batch_size": (batch_size >= 1, "must be >= 1"),
        },
        {"n": n, "batch_size": batch_size},
    )
    x, y = load_digits_arrays()
    if n is not None:
        order = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD161])).permutation(N_DIGITS)[:n]
        x, y = x[order], y[order]
    import sklearn

    params = {
        "n": n,
        "subset": "all, in scikit-learn's order" if n is None else "seeded permutation",
        "scale": "x / 16",
    }
    solver = {
        "method": "sklearn.datasets.load_digits (bundled data, no download)",
        "sklearn_version": sklearn.__version__,
    }
    provenance = Provenance("digits", params=params, seed=seed, solver=solver)
    with SamplesWriter(
        path,
        len(x),
        (64,),
        provenance,
        classes=10,
        class_names=[str(d) for d in range(10)],
        extra_attrs={"image_shape": [8, 8]},
    ) as writer:
        return run_batches(
            writer,
            path,
            generator="digits",
            n=len(x),
            batch_size=batch_size,
            key={"params": params, "seed": seed, "solver": solver},
            compute=lambda start, count: {"x": x[start : start + count], "y": y[start : start + count]},
            progress=progress,
        )
