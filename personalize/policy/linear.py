"""What LinUCB and linear Thompson sampling share: one ridge regression per arm.

Each arm ``a`` keeps the ridge statistics ``A = λI + Σ x xᵀ`` and ``b = Σ r x``,
the inverse ``A⁻¹`` and the estimate ``θ = A⁻¹ b``. One observation updates
``A⁻¹`` by Sherman–Morrison and ``θ`` by the matching recursive-least-squares
step (O(d²), no inversion); without discount, a batch of at least :data:`BATCH`
rows for one arm is added at once and inverted exactly. ``A⁻¹`` and ``θ`` of all
arms live in one contiguous ``(arms, d + 1, d)`` array, so scoring every arm for
a request is a single matrix–vector product. Arms are created, from the prior,
the first time they are seen. A policy is not thread-safe: a threaded server
holds a lock around each call.

Sharing between workers (``DESIGN.md``: additive sufficient statistics): each
arm also counts the *raw* statistics learned since the last :meth:`pop_delta`
(``ΔA = Σ x xᵀ``, ``Δb = Σ r x``, ``Δn``; no prior, never discounted), which a
worker pushes to the store; :meth:`load_totals` rebuilds ``A = λI + A_total +
ΔA_unpopped`` and inverts it. Rows are buffered per arm and folded into these
sums with one matrix product every :data:`FOLD` rows, which keeps the
per-observation cost at a few vector operations.

Forgetting (``discount`` γ < 1) is local: each update of an arm first scales its
model, ``A ← γA``, ``b ← γb`` (so ``A⁻¹ ← A⁻¹/γ``; ``θ`` is unchanged), then adds
the observation. The prior λI decays with it; once its weight falls below λ/2 it
is topped up to λ and ``A`` re-inverted, so unexplored directions never blow up.
Shared mode should keep ``discount=1``: totals from the store are undiscounted,
and :meth:`load_totals` replaces the local (discounted) model with them. To
forget across workers, decay the totals at merge time in the store
(``total ← γ·total + delta`` stays additive).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.linalg.blas import daxpy, dger

from ..exceptions import ConfigError
from .base import Choice, Policy
from .bounds import bound, sample

__all__ = ["BATCH", "DRAWS", "FOLD", "NORMALS", "RENEW", "LinearPolicy"]

FOLD = 64
"""Buffered rows per arm folded into ``ΔA``, ``Δb`` with one matrix product."""
BATCH = 16
"""Rows of one arm in one :meth:`~LinearPolicy.partial_fit` that are added at once."""
DRAWS = 256
"""Uniform numbers drawn from ``rng_`` per call: one call per decision costs more than them."""
NORMALS = 1 << 15
"""Size of the bank of standard normal numbers (see ``_standard_normals``)."""
RENEW = 4096
"""Calls after which the bank of normal numbers is drawn afresh."""


class LinearPolicy(Policy):
    """Per-arm ridge statistics, exploration bounds and worker deltas.

    :param alpha: exploration width (UCB bonus, or posterior spread for Thompson);
        the defaults suit rewards in [0, 1] and did best in ``benchmarks/bandit.py``.
    :param l2: ridge prior λ: ``A`` starts at ``λI``.
    :param floor: least probability of each eligible arm (see :func:`.bounds.bound`).
    :param cap: most probability of any eligible arm.
    :param min_observations: until every eligible arm has this many observations,
        choose uniformly (propensity exactly ``1/K``).
    :param discount: forgetting factor γ in (0, 1]; 1 keeps everything.
    :param random_state: seed or :class:`numpy.random.Generator`.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.25,
        l2: float = 1.0,
        floor: float = 0.01,
        cap: float = 1.0,
        min_observations: int = 20,
        discount: float = 1.0,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.alpha = alpha
        self.l2 = l2
        self.floor = floor
        self.cap = cap
        self.min_observations = min_observations
        self.discount = discount
        self.random_state = random_state

    # -- set-up ---------------------------------------------------------------
    def _validate_params(self) -> None:
        checks = {
            "alpha": self.alpha >= 0.0,
            "l2": self.l2 > 0.0,
            "floor": 0.0 <= self.floor < 1.0,
            "cap": 0.0 < self.cap <= 1.0 and self.cap >= self.floor,
            "min_observations": self.min_observations >= 0,
            "discount": 0.0 < self.discount <= 1.0,
        }
        wanted = {"alpha": ">= 0", "l2": "> 0", "floor": "in [0, 1)",
                  "cap": "in (0, 1] and >= floor", "min_observations": ">= 0",
                  "discount": "in (0, 1]"}
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(name, f"expected {wanted[name]}, got {getattr(self, name)!r}")

    def _setup(self, d: int) -> None:
        self._validate_params()
        self.n_features_in_ = d
        self.arms_: list[str] = []
        self.counts_: list[int] = []
        self.rng_ = np.random.default_rng(self.random_state)
        self._index: dict[str, int] = {}
        self._stack = np.zeros((0, d + 1, d))  # per arm: rows :d are A⁻¹, row d is θ
        self._flat = self._stack.reshape(0, d)
        self._padded = np.zeros(d + 1)
        self._uniforms: list[float] = []
        self._normals = np.zeros(0)
        self._normals_left = 0
        self._A = np.zeros((0, d, d))
        self._b = np.zeros((0, d))
        self._dA = np.zeros((0, d, d))
        self._db = np.zeros((0, d))
        self._dn: list[int] = []
        self._prior: list[float] = []
        self._rows: list[list[np.ndarray]] = []
        self._rewards: list[list[float]] = []
        # per arm: the totals its model was last rebuilt from, or None once it
        # learned, popped or restored anything since (see load_totals)
        self._loaded: list[Mapping[str, np.ndarray] | None] = []

    def _arm(self, arm: str) -> int:
        """Index of ``arm``, created with the prior when first seen."""
        i = self._index.get(arm)
        if i is not None:
            return i
        i = len(self.arms_)
        d = self.n_features_in_
        if i == self._stack.shape[0]:
            grow = max(4, 2 * i)
            self._stack = _grown(self._stack, grow)
            self._flat = self._stack.reshape(-1, d)
            self._A, self._dA = _grown(self._A, grow), _grown(self._dA, grow)
            self._b, self._db = _grown(self._b, grow), _grown(self._db, grow)
        self._stack[i, :d] = np.eye(d) / self.l2
        self._A[i] = self.l2 * np.eye(d)
        self._index[arm] = i
        self._active = self._flat[: (i + 1) * (d + 1)]  # the rows of the arms in use
        self.arms_.append(arm)
        self.counts_.append(0)
        self._dn.append(0)
        self._prior.append(self.l2)
        self._rows.append([])
        self._rewards.append([])
        self._loaded.append(None)
        return i

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not hasattr(self, "n_features_in_"):
            if x.ndim != 1:
                raise ValueError(f"expected a 1-D feature vector, got shape {x.shape}")
            self._setup(x.shape[0])
        if x.shape != (self.n_features_in_,):
            raise ValueError(f"expected a feature vector of shape ({self.n_features_in_},), "
                             f"got {x.shape}")
        return x

    def reset(self) -> None:
        """Drop all learned state; the next call sets up afresh."""
        for name in [k for k in vars(self) if k.endswith("_") or k.startswith("_")]:
            delattr(self, name)

    # -- learning -------------------------------------------------------------
    def partial_fit(
        self, X: np.ndarray, arms: Sequence[str], rewards: Sequence[float]
    ) -> LinearPolicy:
        """Learn from rows ``X`` (n × d), the arm each row was shown, and its reward.

        :param X: feature vectors, one row per observation.
        :param arms: the arm shown for each row.
        :param rewards: the reward each row earned (finite).
        """
        X = np.array(X, dtype=np.float64)  # a private copy: rows are kept until folded
        r = np.asarray(rewards, dtype=np.float64)
        if X.ndim != 2 or len(arms) != X.shape[0] or r.shape != (X.shape[0],):
            raise ValueError(f"expected X of shape (n, d) with n arms and n rewards, got X "
                             f"{X.shape}, {len(arms)} arms, rewards {r.shape}")
        if not (np.isfinite(X).all() and np.isfinite(r).all()):
            raise ValueError("X and rewards must be finite")
        if X.shape[0] == 0:
            return self
        self._check_x(X[0])
        by_arm: dict[int, list[int]] = {}
        for j, arm in enumerate(arms):
            by_arm.setdefault(self._arm(arm), []).append(j)
        for i, rows in by_arm.items():
            if len(rows) >= BATCH and self.discount == 1.0:
                self._add_batch(i, X[rows], r[rows])
            else:
                for j in rows:
                    self._add_one(i, X[j], float(r[j]))
        return self

    def update(self, x: np.ndarray, arm: str, reward: float) -> LinearPolicy:
        """Learn from one observation: the fast path for a single event.

        :param x: the feature vector the decision was made with.
        :param arm: the arm that was shown.
        :param reward: the reward it earned (finite).
        """
        x = self._check_x(x).copy()
        if not math.isfinite(reward):
            raise ValueError(f"expected a finite reward, got {reward!r}")
        self._add_one(self._arm(arm), x, float(reward))
        return self

    def _add_one(self, i: int, x: np.ndarray, r: float) -> None:
        d = self.n_features_in_
        ainv = self._stack[i, :d]
        theta = self._stack[i, d]
        gamma = self.discount
        if gamma != 1.0:
            ainv /= gamma  # (γA)⁻¹ = A⁻¹/γ; θ = (γA)⁻¹(γb) is unchanged
            self._prior[i] *= gamma
        u = np.dot(ainv, x)
        den = 1.0 + float(np.dot(x, u))
        dger(-1.0 / den, u, u, a=ainv.T, overwrite_a=1)  # in place: A⁻¹ -= u uᵀ / den
        daxpy(u, theta, a=(r - float(np.dot(x, theta))) / den)  # in place: θ += c·u
        self._rows[i].append(x)
        self._rewards[i].append(r)
        self.counts_[i] += 1
        self._dn[i] += 1
        self._loaded[i] = None
        if len(self._rows[i]) >= FOLD:
            self._fold(i)
        if self._prior[i] < 0.5 * self.l2:
            self._fold(i)
            self._A[i] += (self.l2 - self._prior[i]) * np.eye(d)
            self._prior[i] = self.l2
            self._invert(i)

    def _add_batch(self, i: int, X: np.ndarray, r: np.ndarray) -> None:
        """Add many rows of one arm at once, then invert exactly (without discount only)."""
        self._rows[i].extend(X)
        self._rewards[i].extend(r.tolist())
        self.counts_[i] += len(r)
        self._dn[i] += len(r)
        self._loaded[i] = None
        self._fold(i)
        self._invert(i)

    def _fold(self, i: int) -> None:
        """Add arm ``i``'s buffered rows to ``A``, ``b`` (discounted) and ``ΔA``, ``Δb``."""
        if not self._rows[i]:
            return
        X = np.array(self._rows[i])
        r = np.array(self._rewards[i])
        self._rows[i], self._rewards[i] = [], []
        XT = X.T
        gram = XT @ X
        xr = XT @ r
        self._dA[i] += gram
        self._db[i] += xr
        gamma = self.discount
        if gamma == 1.0:
            self._A[i] += gram
            self._b[i] += xr
        else:
            k = len(r)
            weighted = XT * gamma ** np.arange(k - 1, -1, -1)
            self._A[i] = gamma**k * self._A[i] + weighted @ X
            self._b[i] = gamma**k * self._b[i] + weighted @ r

    def _invert(self, i: int) -> None:
        d = self.n_features_in_
        ainv = np.linalg.inv(self._A[i])
        self._stack[i, :d] = 0.5 * (ainv + ainv.T)
        self._stack[i, d] = self._stack[i, :d] @ self._b[i]

    # -- sharing between workers ---------------------------------------------
    def pop_delta(self) -> dict[str, dict[str, np.ndarray]]:
        """Per arm, ``{"A": ΔA, "b": Δb, "n": Δn}`` learned since the last call, then clear.

        Deltas are raw sums (no prior, no discount), so the store can add them up.
        Arms with nothing new are left out.
        """
        if not hasattr(self, "n_features_in_"):
            return {}
        delta: dict[str, dict[str, np.ndarray]] = {}
        for i, arm in enumerate(self.arms_):
            self._fold(i)
            if self._dn[i]:
                delta[arm] = {"A": self._dA[i].copy(), "b": self._db[i].copy(),
                              "n": np.array(self._dn[i])}
                self._dA[i] = 0.0
                self._db[i] = 0.0
                self._dn[i] = 0
                self._loaded[i] = None
        return delta

    def restore_delta(self, delta: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Put back a delta from :meth:`pop_delta` that could not be pushed to the store.

        The model itself already contains it; only the unpushed sums grow again.

        :param delta: what :meth:`pop_delta` returned.
        """
        for arm, stats in delta.items():
            i = self._arm(arm)
            self._dA[i] += stats["A"]
            self._db[i] += stats["b"]
            self._dn[i] += int(stats["n"])
            self._loaded[i] = None

    def load_totals(self, totals: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Replace the model with the merged statistics of all workers.

        Each arm becomes ``A = λI + A_total + ΔA``, ``b = b_total + Δb`` (``Δ``:
        learned here and not yet popped), inverted exactly. An arm missing from
        ``totals`` keeps only its un-popped delta. An arm whose totals equal
        those of the last call, and which has not learned, popped or restored
        anything since, already is that model and is skipped: a sync in which
        no worker learned anything inverts nothing.

        :param totals: per arm ``{"A": d × d, "b": d, "n": count}``, sums of deltas.
        """
        for arm, stats in totals.items():
            if not hasattr(self, "n_features_in_"):
                self._setup(np.shape(stats["b"])[0])
            d = self.n_features_in_
            if np.shape(stats["A"]) != (d, d) or np.shape(stats["b"]) != (d,):
                raise ValueError(f"expected A of shape {(d, d)} and b of shape {(d,)} for arm "
                                 f"{arm!r}, got {np.shape(stats['A'])} and {np.shape(stats['b'])}")
            self._arm(arm)
        if not hasattr(self, "n_features_in_"):
            return
        eye = self.l2 * np.eye(self.n_features_in_)
        for i, arm in enumerate(self.arms_):
            stats = totals.get(arm, {})
            loaded = self._loaded[i]
            if loaded is not None and _equal(loaded, stats):
                continue
            self._fold(i)
            self._A[i] = eye + stats.get("A", 0.0) + self._dA[i]
            self._b[i] = stats.get("b", 0.0) + self._db[i]
            self.counts_[i] = int(stats.get("n", 0)) + self._dn[i]
            self._prior[i] = self.l2
            self._invert(i)
            self._loaded[i] = {name: np.array(value) for name, value in stats.items()}

    def statistics(self, arm: str) -> dict[str, np.ndarray]:
        """The arm's current ``{"A", "b", "n"}`` (with the prior), for tests and reports.

        :param arm: an arm the policy has seen.
        """
        i = self._index[arm]
        self._fold(i)
        return {"A": self._A[i].copy(), "b": self._b[i].copy(), "n": np.array(self.counts_[i])}

    def coefficients(self, arm: str) -> np.ndarray:
        """The arm's ridge estimate ``θ`` (one weight per feature), for explanations.

        :param arm: an arm the policy has seen.
        """
        return np.array(self._stack[self._index[arm], self.n_features_in_])

    # -- choosing -------------------------------------------------------------
    def probabilities(
        self, x: np.ndarray, arms: Sequence[str], *, floor: float | None = None,
        cap: float | None = None,
    ) -> np.ndarray:
        """Probability of choosing each of ``arms`` for ``x``, within the floor and cap.

        :param x: the request's feature vector.
        :param arms: the eligible arms, distinct; unseen arms start from the prior.
        :param floor: this decision's floor instead of :attr:`floor` (e.g. 0 where
            a guardrail forbids exploring).
        :param cap: this decision's cap instead of :attr:`cap`.
        """
        return np.array(self._probabilities(self._check_x(x), arms, floor, cap))

    def choose(
        self, x: np.ndarray, arms: Sequence[str], *, floor: float | None = None,
        cap: float | None = None,
    ) -> Choice:
        """Draw one of ``arms`` from :meth:`probabilities`; its propensity is the one drawn with.

        :param x: the request's feature vector.
        :param arms: the eligible arms, distinct.
        :param floor: this decision's floor instead of :attr:`floor`.
        :param cap: this decision's cap instead of :attr:`cap`.
        """
        p = self._probabilities(self._check_x(x), arms, floor, cap)
        j = sample(p, self._uniform())
        return Choice(arms[j], p[j], dict(zip(arms, p, strict=True)))

    def _probabilities(
        self, x: np.ndarray, arms: Sequence[str], floor: float | None, cap: float | None
    ) -> list[float]:
        k = len(arms)
        if k == 0 or len(set(arms)) != k:
            raise ValueError(f"expected distinct eligible arms, got {list(arms)!r}")
        if floor is None:
            floor = self.floor
        if cap is None:
            cap = self.cap
        overridden = floor != self.floor or cap != self.cap
        if overridden and not (0.0 <= floor <= cap <= 1.0 and cap > 0.0):
            raise ValueError(f"expected 0 <= floor <= cap <= 1 and cap > 0, got floor {floor!r} "
                             f"and cap {cap!r}")
        if k == 1:
            return [1.0]
        index = []
        cold = False
        known, counts, least = self._index, self.counts_, self.min_observations
        for arm in arms:
            i = known.get(arm)
            if i is None:
                i = self._arm(arm)
            index.append(i)
            if counts[i] < least:
                cold = True
        if cold:
            return bound([1.0 / k] * k, floor, cap)
        d = self.n_features_in_
        # One product scores every arm: rows :d give A⁻¹x, row d gives θ·x. With
        # x padded by a 0, a second product gives each arm's xᵀA⁻¹x; then plain
        # Python, which beats numpy's per-call overhead on a handful of arms.
        v = np.dot(self._active, x).reshape(-1, d + 1)
        padded = self._padded
        padded[:d] = x
        quad = np.dot(v, padded).tolist()
        mean = v[:, d].tolist()
        return bound(
            self._preferences([mean[i] for i in index],
                              [math.sqrt(quad[i]) if quad[i] > 0.0 else 0.0 for i in index]),
            floor, cap)

    def _uniform(self) -> float:
        """The next uniform number from ``rng_``, drawn :data:`DRAWS` at a time."""
        if not self._uniforms:
            self._uniforms = self.rng_.random(DRAWS).tolist()
            self._uniforms.reverse()
        return self._uniforms.pop()

    def _standard_normals(self, count: int) -> np.ndarray:
        """``count`` independent standard normal numbers: a window of a bank from ``rng_``.

        Drawing normals costs ~12 ns each, more than the rest of a decision, so
        each call reads a window at a uniformly random offset in a bank of
        :data:`NORMALS` numbers that is drawn afresh every :data:`RENEW` calls.
        Within a window the numbers are independent; windows of different calls
        may overlap, which no estimate here relies on.
        """
        if self._normals_left == 0 or count > self._normals.shape[0]:
            self._normals = self.rng_.standard_normal(max(NORMALS, count))
            self._normals_left = RENEW
        self._normals_left -= 1
        start = int(self._uniform() * (self._normals.shape[0] - count + 1))
        return self._normals[start : start + count]

    @abstractmethod
    def _preferences(self, mean: list[float], spread: list[float]) -> list[float]:
        """Choice probabilities before bounds, from each arm's ``θ·x`` and ``√(xᵀA⁻¹x)``."""


def _equal(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    """True when two groups of statistics hold the same arrays."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.zeros((size, *array.shape[1:]))
    grown[: array.shape[0]] = array
    return grown
