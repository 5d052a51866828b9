"""The analyses, one module per question or concern, in the order they run.

Each module has ``NAME``, ``TITLE`` and ``analyze(store, ...) -> Finding``; an
analysis that needs another's result takes that finding as an argument (the
pipeline wires them). Each has a template partial ``templates/_<NAME>.html``.
"""

from reportgen.analyses import clocks, compromise, detection, method, noise, profile, timeline

ANALYSES = (clocks, profile, timeline, compromise, detection, noise, method)
"""In run order: clocks first (every time needs them), then what builds on them."""
