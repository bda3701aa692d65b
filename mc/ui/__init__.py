"""``mc.ui``: a read-only status page over a flow store, and static reports of one flow.

``mc ui`` serves :func:`mc.ui.app.create_app` (Starlette and uvicorn: the
``ui`` extra, ``pip install 'missioncontrol[ui]'``); ``mc report KEY``
writes :func:`mc.ui.report.flow_report`, one self-contained HTML file. Both
show what :mod:`mc.ui.views` reads from the store, drawn by the same
JavaScript (``mc/ui/static``). Nothing here changes a flow.

See the "The status page" chapter of the docs.
"""

__all__ = []
