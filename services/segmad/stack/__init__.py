"""The local stack without Docker: real servers as background processes under one folder (`make up`)."""
