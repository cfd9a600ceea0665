"""Operations: Prometheus metrics, structured JSON logs, drain on SIGTERM."""
