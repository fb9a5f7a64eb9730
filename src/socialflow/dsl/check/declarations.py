"""The bundle header, the named declarations and the input declaration."""

from __future__ import annotations

from socialflow.dsl import ast
from socialflow.dsl.check.context import Context

__all__ = ["check_header", "check_input", "collect_declarations"]


def check_header(ctx: Context) -> None:
    """One ``ruleset`` header per bundle, with a known hit policy."""
    rulesets = ctx.of(ast.RulesetDecl)
    for extra in rulesets[1:]:
        ctx.error(
            "duplicate_declaration",
            "a bundle has one `ruleset` header",
            extra.span,
            notes=(f"first declared at {ctx.location(rulesets[0].span)}",),
        )
    ctx.header = header = rulesets[0] if rulesets else None
    if header is not None and header.hit is not None:
        if header.hit.text in ("all", "first"):
            ctx.hit = header.hit.text
        else:
            ctx.error(
                "unknown_hit_policy",
                f"unknown hit policy `{header.hit.text}`",
                header.hit.span,
                "use `hit all` or `hit first`",
            )


def collect_declarations(ctx: Context) -> None:
    """Index schemas, queues, calendars, SLAs, escalations and rules by name."""
    ctx.schema_decls = ctx.collect("schema", ctx.of(ast.SchemaDecl), lambda s: s.name)
    ctx.queue_decls = ctx.collect("queue", ctx.of(ast.QueueDecl), lambda q: q.name)
    ctx.calendar_decls = ctx.collect("calendar", ctx.of(ast.CalendarDecl), lambda c: c.name)
    ctx.sla_decls = ctx.collect("sla", ctx.of(ast.SlaDecl), lambda s: s.name)
    ctx.escalation_decls = ctx.collect("escalation", ctx.of(ast.EscalationDecl), lambda e: e.name)
    ctx.rule_decls = ctx.collect("rule", ctx.of(ast.RuleDecl), lambda r: r.name)


def check_input(ctx: Context) -> None:
    """One ``input`` declaration, naming a declared schema; it becomes a CEL variable."""
    inputs = ctx.of(ast.InputDecl)
    for extra in inputs[1:]:
        ctx.error(
            "duplicate_declaration",
            "a bundle has one `input` declaration",
            extra.span,
            notes=(f"first declared at {ctx.location(inputs[0].span)}",),
        )
    if not inputs:
        for kind, name in sorted(ctx.broken):
            if kind == "input":  # its declaration has a syntax error: any message will do
                ctx.declarations[name] = "dyn"
        return
    decl = inputs[0]
    if decl.var.text == "now":
        ctx.error("reserved_name", "`now` is always bound; name the input otherwise", decl.var.span)
    if ("schema", decl.schema.text) in ctx.broken:
        ctx.declarations[decl.var.text] = "dyn"
    elif ctx.resolve("schema", decl.schema, ctx.schema_decls, "undeclared_schema"):
        ctx.input_var, ctx.input_schema = decl.var.text, decl.schema.text
        if decl.schema.text in ctx.object_types:
            ctx.declarations[ctx.input_var] = ctx.object_types[decl.schema.text]
