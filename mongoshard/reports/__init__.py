"""The reports layer: balance, explain, the cluster status screen, the query audit and its capture, plots."""
