"""Silver-standard English NER corpus from the King James Bible; see README.md."""
