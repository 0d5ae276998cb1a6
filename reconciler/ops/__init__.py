"""The operations: one module per verb (``ops/<verb>.py``), doing what ``cli/<verb>.py`` parses and prints.

Each opens the backend (``compose``) and calls the layers below — the one workflow (``apply.workflow.run_sets``),
the planner, the state store. Operations print nothing and ask nothing: what to show and whether to go on come in
as callbacks. Commands import operations, never the reverse; the renderers import none.
"""
