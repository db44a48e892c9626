"""k-means: scikit-learn's ``KMeans`` on nocopy's kernels, without scikit-learn.

The estimator follows scikit-learn's ``KMeans`` step by step so that the same ``random_state``
gives the same clustering: the same parameter checks, the data moved by its mean (here on the
fly, tile by tile, never a copy of ``X``), the same random draws in the same order (NumPy's
``RandomState``), its greedy k-means++, its tolerance rule, convergence tests and relocation of
empty clusters, and its choice among the ``n_init`` runs. The passes over the data run in Rust
on all threads, with the GIL released; their result does not depend on the number of threads.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _native
from ._distance import cdist
from ._native import anynan, max, min


class ConvergenceWarning(UserWarning):
    """Fewer distinct clusters than asked for (scikit-learn's warning of the same name)."""


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit`` (as scikit-learn's ``NotFittedError``)."""


def _points(X: ArrayLike, what: str = "X") -> np.ndarray:
    """``X`` as a 2-d float32 or float64 array (other dtypes become float64, as in
    scikit-learn), refusing NaN, infinity and empty tables."""
    a = np.asarray(X)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold numbers, not {a.dtype}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {a.ndim}D array instead: reshape your data with "
            "array.reshape(-1, 1) if it has a single feature or array.reshape(1, -1) if it "
            "holds a single sample."
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"Found array with {a.shape[0]} sample(s) and {a.shape[1]} feature(s) "
            f"(shape={a.shape}) while a minimum of 1 is required by KMeans."
        )
    if not (np.isfinite(min(a)) and np.isfinite(max(a))):
        if anynan(a):
            raise ValueError(f"Input {what} contains NaN.")
        raise ValueError(f"Input {what} contains infinity or a value too large for {a.dtype!r}.")
    return a


def _weights(sample_weight: Any, X: np.ndarray) -> np.ndarray:
    """scikit-learn's ``_check_sample_weight``: ones, a scalar for every row, or one
    non-negative weight per row, in ``X``'s dtype."""
    n = X.shape[0]
    if sample_weight is None:
        return np.ones(n, dtype=X.dtype)
    if isinstance(sample_weight, numbers.Number):
        w = np.full(n, sample_weight, dtype=X.dtype)
    else:
        w = np.asarray(sample_weight, dtype=X.dtype)
        if w.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got {w.ndim}D")
        if w.shape != (n,):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected {(n,)}!")
    if not np.all(np.isfinite(w)):
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if np.any(w < 0):
        raise ValueError("Negative values in data passed to `sample_weight`")
    return w


def _random_state(seed: Any) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")


def _same_clustering(a: np.ndarray, b: np.ndarray, k: int) -> bool:
    """Whether labels ``a`` and ``b`` are the same partition up to a renaming of ``a``'s
    labels (scikit-learn's ``_is_same_clustering``)."""
    pairs = np.unique(a.astype(np.int64) * k + b)
    return bool(np.unique(pairs // k).size == pairs.size)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(
            f"The '{name}' parameter of KMeans must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )


class KMeans:
    """K-means clustering, scikit-learn's ``KMeans``: same parameters, attributes and results.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters.
    init : {"k-means++", "random"}, callable or array of shape (n_clusters, n_features)
        ``"k-means++"``: scikit-learn's greedy k-means++ (``2 + int(log(n_clusters))`` local
        trials per centre); ``"random"``: ``n_clusters`` distinct rows drawn with probability
        proportional to their weight; a callable ``init(X, n_clusters, random_state)``; or the
        initial centres.
    n_init : "auto" or int, default="auto"
        Runs from different initial centres; the one with the least inertia is kept. ``"auto"``:
        1 for ``"k-means++"`` and arrays, 10 for ``"random"`` and callables.
    max_iter : int, default=300
        Iterations per run.
    tol : float, default=1e-4
        Convergence when the centres move (sum of squared moves) at most ``tol`` times the mean
        of the features' variances; a run also stops as soon as no label changes.
    verbose : int, default=0
        Print the inertia at each iteration and how each run converged.
    random_state : None, int or numpy.random.RandomState
        The draws of the initialisation (NumPy's ``RandomState`` stream, as scikit-learn's).
    copy_x : bool, default=True
        Accepted for scikit-learn's signature; ``X`` is never modified or copied either way.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Lloyd's iterations; ``"elkan"`` is accepted and gives the same clustering (its
        results equal Lloyd's in exact arithmetic).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,), int32
    inertia_ : float
        Weighted sum of squared distances of the samples to their centre.
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> X = np.array([[1.0, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = nc.KMeans(n_clusters=2, random_state=0).fit(X)
    >>> km.cluster_centers_[np.argsort(km.cluster_centers_[:, 0])]
    array([[ 1.,  2.],
           [10.,  2.]])
    >>> float(km.inertia_)
    16.0
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: Any = "k-means++",
        n_init: Any = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        verbose: int = 0,
        random_state: Any = None,
        copy_x: bool = True,
        algorithm: str = "lloyd",
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm

    # scikit-learn's estimator protocol: enough for clone, pipelines and grid search.

    @classmethod
    def _param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters
        return sorted(p for p in params if p != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> KMeans:
        """Sets constructor parameters by name; returns the estimator."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self!r}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = []
        for name in self._param_names():
            value, default = getattr(self, name), defaults[name].default
            plain = isinstance(value, str | numbers.Number | type(None))
            if value is not default and not (plain and value == default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin

        class _Tagged(ClusterMixin, TransformerMixin, BaseEstimator):
            pass

        return _Tagged().__sklearn_tags__()

    # Fitting.

    def _check_params(self, X: np.ndarray) -> int:
        """Validates the parameters against ``X``; the number of runs."""
        _check_int("n_clusters", self.n_clusters, 1)
        _check_int("max_iter", self.max_iter, 1)
        if not isinstance(self.tol, numbers.Real) or self.tol < 0:
            raise ValueError(
                f"The 'tol' parameter of KMeans must be a float in the range [0.0, inf). "
                f"Got {self.tol!r} instead."
            )
        if self.algorithm not in ("lloyd", "elkan"):
            raise ValueError(
                "The 'algorithm' parameter of KMeans must be a str among {'lloyd', 'elkan'}. "
                f"Got {self.algorithm!r} instead."
            )
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")
        init = self.init
        if isinstance(init, str):
            if init not in ("k-means++", "random"):
                raise ValueError(
                    "The 'init' parameter of KMeans must be a str among {'k-means++', 'random'}, "
                    f"a callable or an array-like. Got {init!r} instead."
                )
        if self.n_init == "auto":
            many = (isinstance(init, str) and init == "random") or callable(init)
            n_init = 10 if many else 1
        else:
            _check_int("n_init", self.n_init, 1)
            n_init = int(self.n_init)
        if not isinstance(init, str) and not callable(init) and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"KMeans instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            n_init = 1
        return n_init

    def _centres_shape(self, X: np.ndarray, centres: np.ndarray) -> None:
        if centres.ndim != 2 or centres.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centres.shape} does not match "
                f"the number of clusters {self.n_clusters}."
            )
        if centres.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centres.shape} does not match "
                f"the number of features of the data {X.shape[1]}."
            )

    def _initial(
        self,
        X: np.ndarray,
        mean: np.ndarray,
        w: np.ndarray,
        rng: np.random.RandomState,
    ) -> np.ndarray:
        """One run's initial centres, moved by ``mean`` (scikit-learn's ``_init_centroids``)."""
        k, n = self.n_clusters, X.shape[0]
        init = self.init
        if isinstance(init, str) and init == "k-means++":
            trials = 2 + int(np.log(k))
            first = rng.choice(n, p=w / w.sum())
            # uniform(size=trials) per centre: the same stream, drawn at once.
            draws = rng.random_sample((k - 1, trials))
            rows = _native._plusplus(X, *_frame(mean, w), k, int(first), draws)
            return X[rows] - mean
        if isinstance(init, str):  # "random"
            seeds = rng.choice(n, size=k, replace=False, p=w / w.sum())
            return X[seeds] - mean
        if callable(init):
            centres = np.asarray(init(X - mean, k, random_state=rng), dtype=X.dtype)
        else:
            centres = np.array(init, dtype=X.dtype, order="C") - mean
        self._centres_shape(X, centres)
        return np.ascontiguousarray(centres, dtype=X.dtype)

    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> KMeans:
        """Computes the clustering of the rows of ``X``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Any layout; float32 stays float32, other dtypes become float64. Never copied
            (other dtypes than float32/float64 are converted, as in scikit-learn).
        y : ignored
        sample_weight : array_like of shape (n_samples,), optional
            Non-negative weights; ones by default.
        """
        X = _points(X)
        n_init = self._check_params(X)
        if not (isinstance(self.init, str) or callable(self.init)):
            self._centres_shape(X, np.asarray(self.init))
        rng = _random_state(self.random_state)
        w = _weights(sample_weight, X)
        mean = X.mean(axis=0)
        tol = _native._tolerance(X, *_frame(mean, w), self.tol) if self.tol else 0.0
        say = _reporter(X.dtype) if self.verbose else None
        best: tuple[Any, ...] | None = None
        for _ in range(n_init):
            init = self._initial(X, mean, w, rng)
            if self.verbose:
                print("Initialization complete")
            centres, labels, inertia, n_iter = _native._lloyd(
                X, *_frame(mean, w), init, self.max_iter, tol, bool(self.verbose), say
            )
            if best is None or (
                inertia < best[2] and not _same_clustering(labels, best[1], self.n_clusters)
            ):
                best = (centres, labels, inertia, n_iter)
        assert best is not None
        centres, labels, inertia, n_iter = best
        distinct = np.count_nonzero(np.bincount(labels, minlength=self.n_clusters))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = (centres + mean).astype(X.dtype, copy=False)
        self.labels_ = labels
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = X.shape[1]
        self._n_features_out = self.n_clusters
        self._mean = mean
        return self

    def _fitted(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``X`` checked against the fitted model, and the centres in its dtype."""
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        X = _points(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X, self.cluster_centers_.astype(X.dtype, copy=False)

    def _assign(self, X: ArrayLike, sample_weight: Any = None) -> tuple[np.ndarray, float]:
        X, centres = self._fitted(X)
        w = _weights(sample_weight, X)
        mean = self._mean.astype(X.dtype)
        labels, inertia = _native._assign(X, *_frame(mean, w), np.ascontiguousarray(centres - mean))
        return labels, inertia

    def predict(self, X: ArrayLike) -> NDArray[np.int32]:
        """The index of the nearest centre of each row of ``X`` (ties to the lower index)."""
        return self._assign(X)[0]

    def fit_predict(
        self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None
    ) -> NDArray[np.int32]:
        """``fit(X).labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Euclidean distances of the rows of ``X`` to every centre, ``(n_samples, k)``."""
        X, centres = self._fitted(X)
        return cdist(X, centres)

    def fit_transform(
        self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None
    ) -> NDArray[np.floating]:
        """``fit(X).transform(X)``."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Minus the inertia of ``X`` against the centres."""
        return -self._assign(X, sample_weight)[1]


def _frame(mean: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre and weights as the kernels take them (float64, exactly the given values)."""
    return np.ascontiguousarray(mean, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64)


def _reporter(dtype: np.dtype) -> Any:
    """scikit-learn's verbose lines, from the kernels' events."""

    def say(kind: str, iteration: int, a: float, b: float) -> None:
        if kind == "iteration":
            print(f"Iteration {iteration}, inertia {float(dtype.type(a))}.")
        elif kind == "strict":
            print(f"Converged at iteration {iteration}: strict convergence.")
        else:
            print(f"Converged at iteration {iteration}: center shift {a} within tolerance {b}.")

    return say


def kmeans(
    X: ArrayLike,
    n_clusters: int,
    *,
    sample_weight: ArrayLike | None = None,
    init: Any = "k-means++",
    n_init: Any = "auto",
    max_iter: int = 300,
    tol: float = 1e-4,
    verbose: int = 0,
    random_state: Any = None,
    algorithm: str = "lloyd",
) -> tuple[np.ndarray, NDArray[np.int32], float, int]:
    """K-means clustering as a function (scikit-learn's ``k_means``):
    ``(centers, labels, inertia, n_iter)``; the parameters are :class:`KMeans`'s.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> X = np.array([[0.0], [1], [10], [11]])
    >>> centers, labels, inertia, n_iter = nc.kmeans(X, 2, init=np.array([[0.0], [10]]))
    >>> centers.ravel().tolist(), labels.tolist(), inertia
    ([0.5, 10.5], [0, 0, 1, 1], 1.0)
    """
    est = KMeans(
        n_clusters,
        init=init,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        verbose=verbose,
        random_state=random_state,
        algorithm=algorithm,
    ).fit(X, sample_weight=sample_weight)
    return est.cluster_centers_, est.labels_, est.inertia_, est.n_iter_
