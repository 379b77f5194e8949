"""The study: training (trainer presets, Keras), validation of the scores against trained errors, reports, figures.

Holds the Keras trainer (:mod:`.train`), the validation that trains screened
architectures and stores their test errors (:mod:`.validation`), the report with its
tables and plots (:mod:`.report`) and the figures of screened rows (:mod:`.figures`).
TensorFlow is imported inside the functions that train only.

Must not import: cli; reads and writes the database only through :mod:`mae_ort.results`.
"""
