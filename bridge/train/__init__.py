"""Training the project's own models from the wine reviews.

Each model is one module with ``add_arguments(parser)`` and ``run(args)`` for the command line
(``mlbridge train <model>``) and a function that trains and exports it:

- :mod:`bridge.train.sentiment`: review text → positive / negative (``train_sentiment``);
- :mod:`bridge.train.quality`: a review's categorical columns and price → points.

Keras and TensorFlow are imported only when training starts, so the CLI stays quick.
"""
