"""cosrecon: keep Tencent Cloud COS + Cloud Infinite derived images in step with declarations.

Architecture (observe -> decide -> act):
- pure core: ``model`` (values), ``globs``, ``templates``, ``rules``, ``planner``, ``ledger`` (format only);
- effects behind small interfaces: ``storage`` (COS via the SDK), ``state`` (ledger store, locks),
  ``executor`` (apply), ``local`` (the embedded COS + CI compatible server);
- presentation: ``render`` and the thin click ``cli``.
"""

__version__ = "0.1.0"
