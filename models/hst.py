"""Half-Space Trees with River's trees and River's scores, learning in bulk.

River's ``HalfSpaceTrees`` walks every tree for every event it learns, to add one to
the mass of each node on the path. Those counts are only read when the window ends
(they become the reference masses that scores use) or when a split feature is missing.
Here features are never missing, so the points of a window are kept and counted all
at once with numpy when the window ends. The trees are River's own (``make_padded_tree``
with the same seed), masses are integers and every per-tree score is an integer sum of
powers of two, so scores equal River's exactly; ``tests/unit/test_hst.py`` checks it.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import numpy as np
from river.tree.padded import make_padded_tree

#: River's padding of split points away from the edges of a feature's range.
PADDING = 0.15
#: Attributes rebuilt from the splits and masses on load, never pickled.
_DERIVED = ("_walk", "_leaf_scores", "_flat_feature", "_flat_threshold")


class HalfSpaceTrees:
    """Predict-only walks per event, learning counted per window.

    ``features`` fixes the inputs (their order is River's: sorted by name); every ``x``
    given must have all of them, in [0, 1].
    """

    def __init__(self, features: list[str], n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int = 0):
        self.features = sorted(features)
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.size_limit = 0.1 * window_size
        self.max_score = n_trees * window_size * (2 ** (height + 1) - 1)
        rng = random.Random(seed)
        nodes = 2 ** (height + 1) - 1
        self._feature = np.zeros((n_trees, nodes), dtype=np.int64)
        self._threshold = np.zeros((n_trees, nodes))
        for tree in range(n_trees):
            root = make_padded_tree(
                limits={name: (0.0, 1.0) for name in self.features},
                height=height,
                padding=PADDING,
                rng=rng,
                r_mass=0,
                l_mass=0,
            )
            self._copy_tree(tree, root)
        self._reference_mass = np.zeros((n_trees, nodes), dtype=np.int64)
        self._window: list[list[float]] = []
        self._first_window = True
        self._compile()

    def _copy_tree(self, tree: int, root: object) -> None:
        index = {name: i for i, name in enumerate(self.features)}
        stack = [(root, 0)]
        while stack:
            node, at = stack.pop()
            if hasattr(node, "feature"):
                self._feature[tree, at] = index[node.feature]  # type: ignore[attr-defined]
                self._threshold[tree, at] = node.threshold  # type: ignore[attr-defined]
                left, right = node.children  # type: ignore[attr-defined]
                stack.extend(((left, 2 * at + 1), (right, 2 * at + 2)))

    def _vector(self, x: dict[str, float]) -> list[float]:
        return [x[name] for name in self.features]

    def learn_one(self, x: dict[str, float]) -> None:
        self.learn_point(self._vector(x))

    def score_one(self, x: dict[str, float]) -> float:
        return self.score_point(self._vector(x))

    def learn_point(self, point: list[float]) -> None:
        """Learn a point given as its values in ``features`` order."""
        self._window.append(point)
        if len(self._window) == self.window_size:
            self._end_window()

    def score_point(self, point: list[float]) -> float:
        """1 - normalised mass along the point's paths: high for points in sparse regions."""
        if self._first_window:
            return 0
        return 1 - self._walk(point, self._leaf_scores) / self.max_score

    def _end_window(self) -> None:
        """The window's counts become the reference masses (River's pivot)."""
        self._reference_mass = self._count(np.array(self._window))
        self._window = []
        self._first_window = False
        self._refresh_scores()

    def _count(self, points: np.ndarray) -> np.ndarray:
        """Per tree and node, how many of ``points`` pass through it.

        Each point is walked to its leaf in every tree at once, one level per step, with
        flat ``take``s; leaves are counted, and every other node holds the sum of its
        children, filled bottom up: the counts of a per-node walk, for less work.
        """
        n_trees, nodes = self._feature.shape
        count = len(points)
        columns = points.T.ravel()  # feature f of point j at f * count + j
        offsets = (np.arange(n_trees, dtype=np.int64) * nodes)[:, None]
        index = np.arange(count, dtype=np.int64)
        node = np.zeros((n_trees, count), dtype=np.int64)
        for _ in range(self.height):
            flat = node + offsets
            right = columns.take(self._flat_feature.take(flat) * count + index) >= self._flat_threshold.take(flat)
            node = 2 * node + 1 + right
        mass = np.bincount((node + offsets).ravel(), minlength=n_trees * nodes).reshape(n_trees, nodes)
        for level in range(self.height - 1, -1, -1):
            first, last = 2**level - 1, 2 ** (level + 1) - 1
            children = 2 * np.arange(first, last) + 1
            mass[:, first:last] = mass[:, children] + mass[:, children + 1]
        return mass.astype(np.int64, copy=False)

    def _compile(self) -> None:
        """The walk to each tree's leaf, as code, and the score of every leaf from the masses."""
        features = tuple(map(tuple, self._feature.tolist()))
        thresholds = tuple(map(tuple, self._threshold.tolist()))
        self._walk = _compile_walk(features, thresholds, self.height, len(self.features))
        self._flat_feature = self._feature.ravel()
        self._flat_threshold = self._threshold.ravel()
        self._refresh_scores()

    def _refresh_scores(self) -> None:
        """Per leaf of each tree: River's score of a walk that passes through it.

        A walk adds mass x 2**depth at each node and stops at the first node whose mass
        is below the size limit, or at a leaf. Every walk through a leaf passes the same
        nodes, so its score is read off the leaf's path once per window, here.
        """
        nodes = self._reference_mass.shape[1]
        depth = np.floor(np.log2(np.arange(nodes) + 1)).astype(np.int64)
        path = self._reference_mass * (np.int64(1) << depth)
        for level in range(1, self.height + 1):  # a level at a time: each node adds its parent's path
            first, last = 2**level - 1, 2 ** (level + 1) - 1
            path[:, first:last] += path[:, (np.arange(first, last) - 1) // 2]
        leaves = np.arange(2**self.height) + 2**self.height - 1
        # ancestors[d, i]: the node at depth d on the path to leaf i (the leaf itself last)
        ancestors = np.stack([((leaves + 1) >> (self.height - d)) - 1 for d in range(self.height + 1)])
        stops = self._reference_mass[:, ancestors] < self.size_limit
        stops[:, -1, :] = True
        end = ancestors[stops.argmax(axis=1), np.arange(len(leaves))]
        self._leaf_scores = np.take_along_axis(path, end, axis=1).ravel().tolist()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the generated walk (a function made by ``exec`` cannot be)."""
        return {name: value for name, value in self.__dict__.items() if name not in _DERIVED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for stale in ("_walk_feature", "_walk_threshold", "_first_leaf"):  # kept by earlier versions
            state.pop(stale, None)
        self.__dict__.update(state)
        self._compile()


@functools.lru_cache(maxsize=8)
def _compile_walk(
    features: tuple[tuple[int, ...], ...], thresholds: tuple[tuple[float, ...], ...], height: int, inputs: int
) -> Callable[[list[float], list[int]], int]:
    """One function that walks every tree to a leaf as nested ``if``s and sums the leaves' scores.

    Scoring is most of the detector's work per event, and the splits never change, so
    they are written out as code once: a walk is then ``height`` comparisons of local
    variables per tree, in one call. The masses change every window; they only change
    the leaf scores, passed in as ``s`` (tree after tree, leaves in order). Thresholds
    are written with ``repr``, which reads back as the same float. Forests with the same
    splits (the same seed) share one walk: making one takes about 0.2 s.
    """
    lines = ["def walk(p, s):", " " + "".join(f"p{i}, " for i in range(inputs)) + "= p", " t = 0"]
    for tree, (feature, threshold) in enumerate(zip(features, thresholds, strict=True)):
        _write_node(lines, feature, threshold, height, node=0, depth=1, base=tree * 2**height)
    lines.append(" return t")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # the source holds only numbers made above
    return namespace["walk"]


def _write_node(
    lines: list[str],
    feature: tuple[int, ...],
    threshold: tuple[float, ...],
    height: int,
    node: int,
    depth: int,
    base: int,
) -> None:
    """Append the code of ``node``'s subtree: split on the feature, or add the leaf's score."""
    pad = " " * depth
    first_leaf = 2**height - 1
    if node >= first_leaf:
        lines.append(f"{pad}t += s[{base + node - first_leaf}]")
        return
    lines.append(f"{pad}if p{feature[node]} >= {threshold[node]!r}:")
    _write_node(lines, feature, threshold, height, 2 * node + 2, depth + 1, base)
    lines.append(f"{pad}else:")
    _write_node(lines, feature, threshold, height, 2 * node + 1, depth + 1, base)
