"""Steps 1-2: the records of RUN/data, extraction, the tf.data input pipeline, previews, sample."""
