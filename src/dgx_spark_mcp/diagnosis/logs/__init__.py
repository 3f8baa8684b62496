"""diagnose_log: Spark driver/executor logs and Airflow task logs into ranked findings."""
