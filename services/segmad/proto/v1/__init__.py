"""Generated from proto/segmad/v1/*.proto by grpcio-tools' protoc; do not edit by hand."""
