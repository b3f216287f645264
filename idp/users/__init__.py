"""Users and their linked upstream accounts."""
