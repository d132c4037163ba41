"""Proto3 JSON for the resource model, driven by dataclass type hints.

Rules (spec section 1): lowerCamelCase names out, camelCase or snake_case in; enums as
names, or as integers when the caller asked for ``enum-encoding=int``; int64 as decimal
strings; durations as ``"3600s"``; timestamps as RFC 3339 UTC with ``Z``; default values
omitted, but a present (even empty) message is written as ``{}``; unknown input fields
ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar, TypeVar, Union

from .errors import bad_request

INT64 = "int64"
Int64 = Annotated[int, INT64]
"""An int64 field: a decimal string in JSON."""

JsonDict = dict[str, Any]
M = TypeVar("M", bound="Message")

_Encoder = Callable[[Any, bool], Any]
_Decoder = Callable[[Any, str, bool], Any]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- scalars -------------------------------------------------------------------------

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime (nanoseconds truncated)."""
    m = _TS_RE.match(text.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micros = int((m.group(7) or "0").ljust(9, "0")[:6])
    tz = timezone.utc
    if m.group(9):
        sign = 1 if m.group(9) == "+" else -1
        tz = timezone(sign * timedelta(hours=int(m.group(10)), minutes=int(m.group(11))))
    local = datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    try:
        return local.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the last UTC instant
        raise ValueError(f"timestamp out of range: {text!r}") from None


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, using 0, 3 or 6 fractional digits."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    us = value.microsecond
    if us == 0:
        return base + "Z"
    if us % 1000 == 0:
        return f"{base}.{us // 1000:03d}Z"
    return f"{base}.{us:06d}Z"


_DUR_RE = re.compile(r"^(-)?(\d+)(?:\.(\d{1,9}))?s$")
MAX_DURATION_SECONDS = 315_576_000_000


def parse_duration(text: str) -> timedelta:
    """Parse a proto3 JSON duration such as ``"3600s"`` or ``"1.5s"``."""
    m = _DUR_RE.match(text.strip())
    if not m:
        raise ValueError(f"not a duration like '3600s': {text!r}")
    seconds = int(m.group(2))
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration out of range: {text!r}")
    micros = int((m.group(3) or "0").ljust(9, "0")[:6])
    value = timedelta(seconds=seconds, microseconds=micros)
    return -value if m.group(1) else value


def format_duration(value: timedelta) -> str:
    total_us = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total_us < 0 else ""
    seconds, us = divmod(abs(total_us), 1_000_000)
    if us == 0:
        return f"{sign}{seconds}s"
    if us % 1000 == 0:
        return f"{sign}{seconds}.{us // 1000:03d}s"
    return f"{sign}{seconds}.{us:06d}s"


# --- field machinery -----------------------------------------------------------------


def _fail(path: str, message: str) -> Exception:
    return bad_request(path, message)


def _is_default(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, (str, list, dict)) and not value:
        return True
    if isinstance(value, enum.IntEnum):
        return int(value) == 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value == 0
    if isinstance(value, float):
        return value == 0.0
    return False  # timestamps and durations are messages: present means emitted


def _codec_for(tp: Any) -> tuple[_Encoder, _Decoder]:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        if INT64 in meta:

            def enc_i64(v: Any, ints: bool) -> Any:
                return str(int(v))

            def dec_i64(raw: Any, path: str, strict: bool) -> Any:
                if isinstance(raw, bool):
                    raise _fail(path, "expected an integer")
                if isinstance(raw, int):
                    return raw
                if isinstance(raw, str) and re.fullmatch(r"-?\d{1,19}", raw.strip()):
                    return int(raw)
                raise _fail(path, f"expected an int64 (a decimal string), got {raw!r}")

            return enc_i64, dec_i64
        return _codec_for(base)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _codec_for(args[0])
    if origin is list:
        (item,) = typing.get_args(tp)
        ienc, idec = _codec_for(item)

        def enc_list(v: Any, ints: bool) -> Any:
            return [ienc(x, ints) for x in v]

        def dec_list(raw: Any, path: str, strict: bool) -> Any:
            if not isinstance(raw, list):
                raise _fail(path, "expected a list")
            return [idec(x, f"{path}[{i}]", strict) for i, x in enumerate(raw)]

        return enc_list, dec_list
    if origin is dict:
        _, vtype = typing.get_args(tp)
        venc, vdec = _codec_for(vtype)

        def enc_map(v: Any, ints: bool) -> Any:
            return {str(k): venc(x, ints) for k, x in v.items()}

        def dec_map(raw: Any, path: str, strict: bool) -> Any:
            if not isinstance(raw, dict):
                raise _fail(path, "expected an object")
            return {str(k): vdec(x, f"{path}.{k}", strict) for k, x in raw.items()}

        return enc_map, dec_map
    if tp is Any:
        return (lambda v, ints: v), (lambda raw, path, strict: raw)
    if isinstance(tp, type) and issubclass(tp, Message):
        msg_cls = tp

        def enc_msg(v: Any, ints: bool) -> Any:
            return v.to_json(enum_ints=ints)

        def dec_msg(raw: Any, path: str, strict: bool) -> Any:
            return msg_cls.from_json(raw, path=path, strict=strict)

        return enc_msg, dec_msg
    if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
        enum_cls = tp

        def enc_enum(v: Any, ints: bool) -> Any:
            return int(v) if ints else enum_cls(v).name

        def dec_enum(raw: Any, path: str, strict: bool) -> Any:
            try:
                if isinstance(raw, bool):
                    raise KeyError(raw)
                if isinstance(raw, int):
                    return enum_cls(raw)
                if isinstance(raw, str):
                    if raw.lstrip("-").isdigit():
                        return enum_cls(int(raw))
                    return enum_cls[raw]
            except (KeyError, ValueError):
                pass
            if not strict:
                return enum_cls(0)
            names = ", ".join(m.name for m in enum_cls)
            raise _fail(path, f"unknown value {raw!r} (expected one of {names})")

        return enc_enum, dec_enum
    if tp is datetime:

        def dec_ts(raw: Any, path: str, strict: bool) -> Any:
            if not isinstance(raw, str):
                raise _fail(path, "expected an RFC 3339 timestamp string")
            try:
                return parse_timestamp(raw)
            except ValueError as exc:
                raise _fail(path, str(exc)) from None

        return (lambda v, ints: format_timestamp(v)), dec_ts
    if tp is timedelta:

        def dec_dur(raw: Any, path: str, strict: bool) -> Any:
            if not isinstance(raw, str):
                raise _fail(path, "expected a duration string such as '3600s'")
            try:
                return parse_duration(raw)
            except ValueError as exc:
                raise _fail(path, str(exc)) from None

        return (lambda v, ints: format_duration(v)), dec_dur
    if tp is bool:

        def dec_bool(raw: Any, path: str, strict: bool) -> Any:
            if isinstance(raw, bool):
                return raw
            if raw in ("true", "false"):
                return raw == "true"
            raise _fail(path, "expected true or false")

        return (lambda v, ints: bool(v)), dec_bool
    if tp is int:

        def dec_int(raw: Any, path: str, strict: bool) -> Any:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and re.fullmatch(r"-?\d{1,10}", raw.strip()):
                return int(raw)
            raise _fail(path, "expected an integer")

        return (lambda v, ints: int(v)), dec_int
    if tp is str:

        def dec_str(raw: Any, path: str, strict: bool) -> Any:
            if isinstance(raw, str):
                return raw
            raise _fail(path, "expected a string")

        return (lambda v, ints: v), dec_str
    raise TypeError(f"unsupported field type {tp!r}")


@dataclasses.dataclass(frozen=True)
class _FieldSpec:
    name: str
    json_name: str
    encode: _Encoder
    decode: _Decoder


class Message:
    """Base of every resource-model message: dataclasses with proto3 JSON."""

    type_url: ClassVar[str] = ""
    _specs: ClassVar[dict[str, _FieldSpec] | None] = None
    _by_json: ClassVar[dict[str, _FieldSpec] | None] = None

    @classmethod
    def _fields(cls) -> dict[str, _FieldSpec]:
        specs = cls.__dict__.get("_specs")
        if specs is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            specs = {}
            by_json: dict[str, _FieldSpec] = {}
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                enc, dec = _codec_for(hints[f.name])
                spec = _FieldSpec(f.name, camel(f.name), enc, dec)
                specs[f.name] = spec
                by_json[spec.json_name] = spec
                by_json[f.name] = spec
            cls._specs = specs
            cls._by_json = by_json
        return specs

    def to_json(self, *, enum_ints: bool = False) -> JsonDict:
        """This message as proto3 JSON."""
        out: JsonDict = {}
        if self.type_url:
            out["@type"] = self.type_url
        for spec in self._fields().values():
            value = getattr(self, spec.name)
            if isinstance(value, Message) or not _is_default(value):
                out[spec.json_name] = spec.encode(value, enum_ints)
        return out

    @classmethod
    def from_json(cls: type[M], data: Any, *, path: str = "", strict: bool = True) -> M:
        """Parse proto3 JSON. ``strict`` raises InvalidArgument on bad values; otherwise
        bad values are skipped so that anything a newer server sends still parses."""
        if not isinstance(data, dict):
            raise _fail(path or cls.__name__, "expected a JSON object")
        cls._fields()
        by_json = cls.__dict__["_by_json"]
        kwargs: dict[str, Any] = {}
        for key, raw in data.items():
            spec = by_json.get(key)
            if spec is None or raw is None:
                continue  # unknown fields are tolerated
            field_path = f"{path}.{spec.json_name}" if path else spec.json_name
            try:
                kwargs[spec.name] = spec.decode(raw, field_path, strict)
            except Exception:
                if strict:
                    raise
        return cls(**kwargs)

    def copy(self: M) -> M:
        return type(self).from_json(self.to_json())
