"""How one session template looks (``template describe``, ``create``, ``from-session``)
and what an ``edit`` changed: HTML in notebooks, text in terminals, data for code."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ..api.model import SessionTemplate
from .render import Shown, _esc, _html_table, _kv_table, _pretty, _section, _text_table, local_time
from .templates_cmd import Change, template_rows


class TemplateView(SessionTemplate):
    """A SessionTemplate that shows itself: name, kernelspec, configuration; ``note`` is
    one line above it (what was just done)."""

    _note = ""

    @classmethod
    def of(cls, template: SessionTemplate, note: str = "") -> TemplateView:
        view = cls(**{f.name: getattr(template, f.name) for f in dataclasses.fields(template)})
        view._note = note
        return view

    def __repr__(self) -> str:
        return f"<SessionTemplate {self.template_id}>"

    def facts(self) -> list[tuple[str, str]]:
        rows = [("name", self.name)]
        if self.jupyter_session is not None:
            rows.append(("kernelspec", f"session-template-{self.template_id}"))
        rows += [
            ("creator", self.creator),
            ("created", local_time(self.create_time)),
            ("updated", local_time(self.update_time)),
        ]
        return [(k, v) for k, v in rows if v]

    def _text(self) -> str:
        lines = [self._note] if self._note else []
        lines.append(f"template {self.template_id}")
        for title, rows in (("", self.facts()), ("configuration", template_rows(self))):
            if title:
                lines.append(title)
            width = max((len(k) for k, _ in rows), default=0)
            lines += [f"  {k:<{width}}  {v}" for k, v in rows]
        return "\n".join(lines)

    _repr_pretty_ = _pretty

    def _repr_html_(self) -> str:
        parts = ['<div class="jp-sessions-template">']
        if self._note:
            parts.append(f'<div class="jp-sessions-notice">{_esc(self._note)}</div>')
        parts.append(f"<div>template <code><b>{_esc(self.template_id)}</b></code></div>")
        parts.append(_kv_table([(_esc(k), _esc(v)) for k, v in self.facts()]))
        parts.append(_section("Configuration"))
        parts.append(_kv_table([(_esc(k), _esc(v)) for k, v in template_rows(self)]))
        parts.append("</div>")
        return "".join(parts)


class TemplateChanges(Shown, list[Change]):
    """What ``template edit`` changed, field by field; ``template`` is the result."""

    def __init__(self, template: SessionTemplate, changes: Iterable[Change] = ()) -> None:
        super().__init__(changes)
        self.template = template

    def _title(self) -> str:
        tid = self.template.template_id
        if not self:
            return f"No changes to template {tid}"
        n = len(self)
        return f"Template {tid}: {n} change{'s' if n != 1 else ''}"

    def _rows(self) -> list[tuple[str, str, str]]:
        return [(c.field, c.before or "(not set)", c.after or "(not set)") for c in self]

    def _text(self) -> str:
        if not self:
            return self._title()
        return self._title() + "\n" + _text_table(("field", "before", "after"), self._rows())

    def _repr_html_(self) -> str:
        title = f'<div class="jp-sessions-notice">{_esc(self._title())}</div>'
        if not self:
            return title
        rows = [(_esc(f), f"<s>{_esc(b)}</s>", _esc(a)) for f, b, a in self._rows()]
        return title + _html_table(("field", "before", "after"), rows, "jp-sessions-changes")


def as_json(template: SessionTemplate, changes: list[Change] | None = None) -> dict[str, Any]:
    """``--json`` output: the template, and for an edit what changed."""
    data = template.to_json()
    if changes is None:
        return data
    return {
        "sessionTemplate": data,
        "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in changes],
    }
