"""geo311.geocoding.geocoder."""
