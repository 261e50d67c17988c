"""Export of runs to experiment trackers (MLflow), imported only when configured."""
