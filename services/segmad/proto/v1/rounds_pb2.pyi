from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class RoundEvent(_message.Message):
    __slots__ = ("round", "state")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    round: int
    state: str
    def __init__(self, round: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...
