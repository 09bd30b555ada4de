"""What a run keeps: the transaction record, station figures, results files."""
