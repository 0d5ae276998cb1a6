"""cosrecon: keep Tencent Cloud COS + Cloud Infinite derived images in step with declarations.

Architecture (declare -> observe -> plan -> apply; docs/architecture.md has the layers and the verb table):
- pure core: ``model`` (values), ``declare`` (globs, templates, rules), ``plan.planner``, ``state.ledger`` (format);
- effects behind small interfaces: ``storage`` (COS via the SDK), ``state`` (ledger store, locks), ``apply`` (the
  one workflow and its engines), ``local`` (the embedded COS + CI compatible server);
- one operation module per verb (``ops``, with the composition root ``ops.compose``), presentation (``render``) and
  one thin click command module per verb (``cli``).
"""

__version__ = "0.1.0"
