"""geo311 maps package."""
