"""geo311.ingest.importer."""
