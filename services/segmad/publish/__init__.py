"""Publishing models to TorchServe: build a .mar around the generic segmad handler, register it."""
