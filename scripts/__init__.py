"""The scripts that draw a results directory's plots and write its report; run from the
repository's top as `python3 -m scripts.plots DIR` and `python3 -m scripts.report DIR`."""
