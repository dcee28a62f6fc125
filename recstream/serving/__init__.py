"""HTTP feature and score server over the online store (``recstream serve``; docs/serving.md).

``app.create_app`` builds the ASGI app; the response shapes live in ``views`` (plain Python), the
people's page in ``ui``, Prometheus metrics in ``metrics``, the server's own settings in ``settings``.
"""
