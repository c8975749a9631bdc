"""The Databricks driver (seeds 000, 001, 004): client, options, rows, SQL statements, actions, job health."""
