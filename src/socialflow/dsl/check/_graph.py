"""Graph helpers for the passes that follow references (schemas, roles).

Iterative, so a chain of any length is no deeper for Python than a chain of
two, and linear in the nodes and edges.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

__all__ = ["strongly_connected"]


def strongly_connected(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The strongly connected components of the graph (Tarjan's algorithm).

    Every component comes after every component it reaches (dependencies
    first), and the result depends only on the order of ``nodes`` and of each
    node's ``edges``.  Edges to names that are not in ``nodes`` are ignored.
    """
    known = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> Iterator[str]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return iter([n for n in edges.get(node, ()) if n in known])

    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, visit(root))]
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    work.append((nxt, visit(nxt)))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components
