"""The export format's own exact rewrites (a runtime's fast path), run after the shared passes:
each target lists them for its options (:meth:`ExportTarget.graph_rewrites`), and every one is
checked against the model it rewrites."""

from __future__ import annotations

from deploytool.converters.passes.fold_batchnorm import output_difference
from deploytool.converters.targets.registry import target


def apply_target_rewrites(model, options, images=None, log=lambda message: None):
    """Return ``(model, record)``: ``model`` through every rewrite ``options.to``'s target asks
    for with ``options``, and the record of the layers each changed, with the largest output
    difference they made (None when nothing changed)."""
    chosen = target(options.to)
    record = {}
    for rewrite in chosen.graph_rewrites(options):
        rewritten, report = rewrite(model)
        changed = {key: value for key, value in report.as_dict().items() if value}
        if not changed:
            continue
        difference = output_difference(model, rewritten, images=images)[0]
        log(f"{rewrite.__name__.replace('_', ' ')}: {sum(map(len, changed.values()))} layer(s), "
            f"for {chosen.label} {options.precision}'s fast path; outputs differ by at most "
            f"{difference:.2e}")
        model = rewritten
        record.update(changed)
        record["max_abs_difference"] = max(difference, record.get("max_abs_difference", 0.0))
    return model, record or None
