"""The music engine: catalogue (SQLite), importers, affect-to-music strategies, ranking,
feedback, Spotify client and the recommender's evaluation.

Public entry points live on the package: ``moodtune.recommend`` and ``moodtune.feedback``
(``moodtune.music.recommend``); the CLI verbs are ``recommend``, ``catalog``, ``feedback`` and
``eval music``.
"""
