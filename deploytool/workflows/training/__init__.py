"""Training a zoo model on a data set (`deploytool train`), on GPUs through tf.distribute: its
options and the run folder it writes."""
