"""The training lab (``pip install moodtune[train]``): data, model zoo, training, evaluation, export."""
