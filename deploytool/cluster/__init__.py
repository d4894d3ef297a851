"""Pages made of many independent cells, run on Ray (a local instance, or a cluster) or one
after another: :func:`deploytool.cluster.run.run_cells`."""
