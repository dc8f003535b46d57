"""Python code generated from the protobuf messages in proto/ (regenerate with `python -m segmad.proto.generate`)."""
