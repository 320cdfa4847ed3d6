"""What the tests share, as plain modules; ``tests/conftest.py`` registers their fixtures.

- :mod:`support.data`: the wine reviews CSV, mly's fixture models, our sentiment model.
- :mod:`support.runtime`: ``runtime`` (a private :class:`bridge.Runtime` with the default
  loaders) and ``sentiment_runtime`` (one with ``python_scripts/wine_sentiment.py`` loaded).
- :mod:`support.mly`: the ``mly_loader`` of that runtime, the wine quality model,
  ``write_config`` and a wine row.
- :mod:`support.redis_server`: a real ``redis-server`` on a free loopback port.
- :mod:`support.mlbridge_server`: our HTTP server (``build/bin/mlbridge-server``) as a child,
  and either server kind (ours, mly's) serving one of mly's fixture models.
- :mod:`support.speed`: ``speed_goal``, asserted only in benchmark runs.
- :mod:`support.bounded`: ``bounded(fn, timeout)``, a call whose hang fails the test.

A helper that more than one test file needs goes here, in the module of its concern.
"""
