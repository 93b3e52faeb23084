"""The comparison graph of a set of battles (networkx; pure functions, no I/O).

Nodes are models, an edge joins two models that met at least once (``weight`` = number of
battles). Bradley-Terry ratings are comparable only within a connected component: two groups of
models that never met, even through intermediaries, have no common scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import numpy.typing as npt


class DisconnectedError(ValueError):
    """The comparison graph has several components; ``components`` lists them (largest first)."""

    def __init__(self, components: list[list[str]]) -> None:
        self.components = components
        shown = "; ".join(", ".join(c) for c in components)
        super().__init__(f"the comparison graph has {len(components)} components, a joint rating needs one: {shown}")


def comparison_graph(models: Sequence[str], a: npt.ArrayLike, b: npt.ArrayLike) -> nx.Graph:
    """``models: (m,)`` names, ``a, b: (n,) int`` indices -> undirected graph on the names, edge
    attribute ``weight`` = battles between the two models (every model is a node, even unplayed)."""
    m = len(models)
    ai = np.asarray(a, dtype=np.int64)
    bi = np.asarray(b, dtype=np.int64)
    lo, hi = np.minimum(ai, bi), np.maximum(ai, bi)
    keys, counts = np.unique(lo * m + hi, return_counts=True)
    g = nx.Graph()
    g.add_nodes_from(models)
    g.add_weighted_edges_from(
        (models[int(key // m)], models[int(key % m)], int(c)) for key, c in zip(keys, counts, strict=True)
    )
    return g


def components(models: Sequence[str], a: npt.ArrayLike, b: npt.ArrayLike) -> list[list[str]]:
    """Connected components of the comparison graph: lists of names (each sorted), largest first."""
    comps = [sorted(c) for c in nx.connected_components(comparison_graph(models, a, b))]
    return sorted(comps, key=lambda c: (-len(c), c))


def check_connected(models: Sequence[str], a: npt.ArrayLike, b: npt.ArrayLike, *,
                    raise_error: bool = True) -> list[list[str]]:
    """The components (see :func:`components`); with ``raise_error`` more than one raises
    :class:`DisconnectedError`, otherwise the caller gets them to show."""
    comps = components(models, a, b)
    if raise_error and len(comps) > 1:
        raise DisconnectedError(comps)
    return comps
