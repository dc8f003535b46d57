from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PredictionReady(_message.Message):
    __slots__ = ("image_id", "model", "version", "blob_key", "fractions", "label_map")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BLOB_KEY_FIELD_NUMBER: _ClassVar[int]
    FRACTIONS_FIELD_NUMBER: _ClassVar[int]
    LABEL_MAP_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    model: str
    version: str
    blob_key: str
    fractions: _containers.RepeatedScalarFieldContainer[float]
    label_map: bytes
    def __init__(self, image_id: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[str] = ..., blob_key: _Optional[str] = ..., fractions: _Optional[_Iterable[float]] = ..., label_map: _Optional[bytes] = ...) -> None: ...
