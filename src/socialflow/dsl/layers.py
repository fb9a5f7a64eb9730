"""Layers: a ruleset that extends another (see ``docs/layers.md``).

A hub writes its ruleset once; a bureau writes one file that starts with
``ruleset uk_care extends acme_inbound`` and holds ``override rule NAME { ... }``
blocks (each replaces the extended ruleset's rule ``NAME`` in place, so the
order of evaluation is kept) and new declarations (rules, queues, SLAs...),
which come after everything it extends.  Loading the hub's files together
with its layers checks all of them at once: the base ruleset on its own, and
each layer as its *effective* ruleset (what it extends, with its overrides
and additions).  Tests belong to the ruleset they are written in.

:func:`compose` splits parsed modules into the base and the effective
modules of each layer; :func:`check_layers` checks them all and merges what
they report, so a problem of the hub's files is reported once, not once per
layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from socialflow._suggest import did_you_mean
from socialflow.dsl import ast
from socialflow.dsl.check import check_modules
from socialflow.dsl.program import CheckedProgram
from socialflow.errors import CheckError, Diagnostic, Severity

__all__ = ["Composition", "EffectiveLayer", "check_layers", "compose"]


@attrs.frozen
class EffectiveLayer:
    """One layer: its name, what it extends and its effective modules."""

    name: str
    extends: str
    #: the file of the layer itself (its header is the first ``ruleset`` in it)
    source: str
    modules: tuple[ast.Module, ...]
    #: rules this layer replaced, in the order they are evaluated
    overrides: tuple[str, ...]
    #: rules this layer added
    added: tuple[str, ...]


@attrs.frozen
class Composition:
    """The base ruleset's modules, every layer's effective modules (parents
    before the layers that extend them) and the problems of layering itself."""

    base: tuple[ast.Module, ...]
    layers: tuple[EffectiveLayer, ...]
    diagnostics: tuple[Diagnostic, ...]


def _header(module: ast.Module) -> ast.RulesetDecl | None:
    for decl in module.decls:
        if isinstance(decl, ast.RulesetDecl):
            return decl
    return None


def compose(modules: Sequence[ast.Module]) -> Composition:
    """Split ``modules`` into the base ruleset and its layers.

    A module is a layer when its first ``ruleset`` header says ``extends``.
    Without any layer this returns the modules unchanged (and costs one scan).
    """
    diagnostics: list[Diagnostic] = []
    base: list[ast.Module] = []
    own: dict[str, tuple[ast.RulesetDecl, ast.Module]] = {}
    # rulesets whose header had a syntax error (reported): nothing that only
    # their absence causes is reported, and a layer's file is left out whole
    unreadable = {n.text for m in modules for b in m.broken if b.kind == "ruleset" for n in b.names}
    for module in modules:
        header = _header(module)
        if header is None and any(b.kind == "extends" for b in module.broken):
            continue
        if header is None or header.extends is None:
            stray = _overrides_outside_layer(module)
            if stray:  # reported once, and left out so they cause nothing more
                diagnostics += stray
                kept = tuple(
                    d for d in module.decls if not (isinstance(d, ast.RuleDecl) and d.override)
                )
                module = attrs.evolve(module, decls=kept)
            base.append(module)
            continue
        name = header.name.text
        if name in own:
            first = own[name][0]
            diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "duplicate_declaration",
                    f"layer `{name}` is declared twice",
                    header.name.span,
                    notes=(f"first declared at {first.name.span.location()}",),
                    help="a layer is one file; give each layer its own name",
                )
            )
            continue
        own[name] = (header, module)
    if not own:
        return Composition(tuple(base), (), tuple(diagnostics))

    base_header = next((h for h in map(_header, base) if h is not None), None)
    base_name = base_header.name.text if base_header is not None else None
    for name, (header, _) in own.items():
        if name == base_name:
            diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "duplicate_declaration",
                    f"layer `{name}` has the name of the ruleset it builds on",
                    header.name.span,
                    help="name the layer after its bureau or team, e.g. `uk_care`",
                )
            )
    effective: dict[str, EffectiveLayer] = {}
    done: set[str] = set()
    for name in own:
        # parents first: walk up the chain, then build it top-down
        chain: list[str] = []
        current: str | None = name
        while current is not None and current in own and current not in done:
            if current in chain:
                header = own[current][0]
                cycle = " -> ".join([*chain[chain.index(current) :], current])
                diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        "layer_cycle",
                        f"layers extend each other in a cycle: {cycle}",
                        header.extends.span if header.extends else header.span,
                        help="one ruleset at the bottom extends nothing",
                    )
                )
                done.update(chain)
                chain = []
                break
            chain.append(current)
            parent = own[current][0].extends
            current = parent.text if parent is not None else None
        for layer in reversed(chain):
            done.add(layer)
            header, module = own[layer]
            assert header.extends is not None
            parent_name = header.extends.text
            if parent_name == base_name and parent_name is not None:
                parent_header: ast.RulesetDecl | None = base_header
                parent_modules = tuple(base)
            elif parent_name in effective:
                parent_header = _header(effective[parent_name].modules[-1])
                parent_modules = effective[parent_name].modules
            else:
                if parent_name not in own and parent_name not in unreadable:
                    # (a layer of a broken chain is reported once, at the break)
                    known = [n for n in (base_name, *own) if n is not None and n != layer]
                    hint = did_you_mean(parent_name, known)
                    shown = ", ".join(f"`{k}`" for k in known) or "none"
                    diagnostics.append(
                        Diagnostic(
                            Severity.ERROR,
                            "unknown_ruleset",
                            f"layer `{layer}` extends `{parent_name}`, which is not loaded",
                            header.extends.span,
                            help=hint
                            or f"load the files of `{parent_name}` with this one (loaded: {shown})",
                        )
                    )
                continue
            built, found = _apply(layer, header, parent_header, parent_modules, module)
            diagnostics += found
            effective[layer] = built
    layers = tuple(effective.values())  # parents before the layers that extend them
    return Composition(tuple(base), layers, tuple(diagnostics))


def _overrides_outside_layer(module: ast.Module) -> list[Diagnostic]:
    return [
        Diagnostic(
            Severity.ERROR,
            "override_outside_layer",
            f"`override rule {decl.name.text}` outside a layer",
            decl.name.span,
            help="`override` replaces a rule of the ruleset a layer extends: "
            "start the file with `ruleset NAME extends PARENT`",
        )
        for decl in module.decls
        if isinstance(decl, ast.RuleDecl) and decl.override
    ]


def _apply(
    name: str,
    header: ast.RulesetDecl,
    parent_header: ast.RulesetDecl | None,
    parent_modules: tuple[ast.Module, ...],
    module: ast.Module,
) -> tuple[EffectiveLayer, list[Diagnostic]]:
    """The effective modules of layer ``name``: the parent's, without their
    header and tests, with this layer's overrides put in place, then the
    layer's own file."""
    diagnostics: list[Diagnostic] = []
    replace: dict[str, ast.RuleDecl] = {}
    parent_rules: dict[str, ast.RuleDecl] = {}
    for parent in parent_modules:
        for d in parent.decls:
            if isinstance(d, ast.RuleDecl):
                parent_rules.setdefault(d.name.text, d)  # a duplicate is the base's error
    kept: list[ast.Decl] = []
    added: list[str] = []
    for decl in module.decls:
        if isinstance(decl, ast.RuleDecl):
            rule = decl.name.text
            if decl.override:
                replaced = parent_rules.get(rule)
                if replaced is None:
                    hint = did_you_mean(rule, parent_rules)
                    diagnostics.append(
                        Diagnostic(
                            Severity.ERROR,
                            "unknown_override",
                            f"`override rule {rule}`: `{header.extends.text if header.extends else ''}`"
                            f" has no rule `{rule}`",
                            decl.name.span,
                            help=hint or "to add a rule, write `rule` instead of `override rule`",
                        )
                    )
                elif rule in replace:
                    diagnostics.append(
                        Diagnostic(
                            Severity.ERROR,
                            "duplicate_declaration",
                            f"rule `{rule}` is overridden twice",
                            decl.name.span,
                            notes=(f"first overridden at {replace[rule].name.span.location()}",),
                        )
                    )
                else:
                    # what the override leaves out it keeps: precedence and display name
                    if all(kind != "precedence" for kind, _ in decl.items):
                        decl = attrs.evolve(decl, precedence=replaced.precedence)
                    if decl.display is None:
                        decl = attrs.evolve(decl, display=replaced.display)
                    if decl == replaced:
                        diagnostics.append(
                            Diagnostic(
                                Severity.WARNING,
                                "override_unchanged",
                                f"`override rule {rule}` changes nothing",
                                decl.name.span,
                                notes=(f"the rule it overrides: {replaced.span.location()}",),
                                help="remove the override, or change what it should change",
                            )
                        )
                    replace[rule] = decl
                continue
            if rule in parent_rules:
                diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        "duplicate_declaration",
                        f"rule `{rule}` is already a rule of "
                        f"`{header.extends.text if header.extends else ''}`",
                        decl.name.span,
                        notes=(f"declared at {parent_rules[rule].span.location()}",),
                        help=f"to replace it, write `override rule {rule}`",
                    )
                )
                continue
            added.append(rule)
        kept.append(decl)
    if header.hit is None and parent_header is not None and parent_header.hit is not None:
        # a layer keeps the hit policy of what it extends unless it says otherwise
        kept = [attrs.evolve(d, hit=parent_header.hit) if d is header else d for d in kept]
    modules: list[ast.Module] = []
    overrides: list[str] = []
    for parent in parent_modules:
        decls: list[ast.Decl] = []
        for decl in parent.decls:
            if isinstance(decl, (ast.RulesetDecl, ast.TestDecl)):
                continue
            if isinstance(decl, ast.RuleDecl) and decl.name.text in replace:
                overrides.append(decl.name.text)
                decl = replace[decl.name.text]
            decls.append(decl)
        modules.append(attrs.evolve(parent, decls=tuple(decls)))
    modules.append(attrs.evolve(module, decls=tuple(kept)))
    layer = EffectiveLayer(
        name, header.extends.text if header.extends else "", module.name,
        tuple(modules), tuple(overrides), tuple(added),
    )  # fmt: skip
    return layer, diagnostics


def check_layers(
    modules: Sequence[ast.Module], strict: bool = False
) -> tuple[CheckedProgram, dict[str, CheckedProgram]]:
    """Check the base ruleset and every layer; the programs by layer name.

    Raises:
        CheckError: with every error of every layer (each reported once).
    """
    composition = compose(modules)
    if not composition.layers and not composition.diagnostics:
        return check_modules(composition.base, strict=strict), {}
    reported: dict[tuple[object, ...], Diagnostic] = {}

    def keep(found: Sequence[Diagnostic], own_file: str | None, layer: str = "") -> None:
        for d in found:
            span = d.span
            key = (d.code, d.message, None if span is None else (span.source.name, span.start))
            outside = span is None or span.source.name != own_file
            if own_file is not None and d.severity is not Severity.ERROR and outside:
                # a layer's check sees the hub's files again: their warnings are the
                # hub's, except how the layer's rules meet the hub's (an override
                # that now conflicts with a hub rule is reported at the hub rule)
                if d.code not in _INTERACTIONS or key in reported:
                    continue
                d = attrs.evolve(d, notes=(*d.notes, f"in layer `{layer}`, with its rules"))
            reported.setdefault(key, d)

    own = composition.diagnostics
    if strict:  # as check_modules: warnings become errors
        own = tuple(attrs.evolve(d, severity=Severity.ERROR) for d in own)
    keep(own, None)
    base: CheckedProgram | None = None
    layers: dict[str, CheckedProgram] = {}
    try:
        base = check_modules(composition.base, strict=strict)
        keep(base.warnings, None)
    except CheckError as e:
        keep(e.diagnostics, None)
    for layer in composition.layers:
        try:
            program = check_modules(layer.modules, strict=strict)
        except CheckError as e:
            keep(e.diagnostics, layer.source, layer.name)
            continue
        keep(program.warnings, layer.source, layer.name)
        layers[layer.name] = attrs.evolve(
            program, extends=layer.extends, overrides=layer.overrides, added=layer.added
        )
    everything = sorted(reported.values(), key=_sort_key)
    if base is None or any(d.severity is Severity.ERROR for d in everything):
        raise CheckError(everything)
    warnings = tuple(d for d in everything if d.severity is Severity.WARNING)
    return attrs.evolve(base, warnings=warnings), layers


#: Lints about how rules meet, which a layer's rules can cause in the hub's files.
_INTERACTIONS: Final = frozenset({"conflicting_rules", "unreachable_rule"})


def _sort_key(d: Diagnostic) -> tuple[str, int, str]:
    if d.span is None:
        return ("", 0, d.code)
    return (d.span.source.name, d.span.start, d.code)
