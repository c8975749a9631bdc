"""The Kafka consumer-lag driver (aiokafka) and its lag trend."""
