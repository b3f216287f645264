"""Operating the service: health, metrics, request ids and logs, rate limits."""
