"""The ports' adapters: the embedded ones (a folder, an in-process log and segmenter) and the real ones (S3, Kafka, TorchServe)."""
