"""Resource names: parse and build ``projects/P/locations/L/...`` paths."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import bad_request

# What Dataproc accepts in names, and nothing else (no spaces, newlines or encodings, so
# a name can neither forge a log line nor steer a URL): project ids or numbers (a
# domain-scoped project adds ``domain:``), locations such as us-central1, and resource ids
# of letters, digits, '-' and '_' (session and template ids are narrower still, see
# validation.py; operation ids are UUIDs).
PROJECT = r"(?:[a-z0-9][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
LOCATION = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
RESOURCE_ID = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,98}[A-Za-z0-9])?"
# \Z, not $: "$" also matches before a final newline.
PROJECT_RE = re.compile(rf"^{PROJECT}\Z")
LOCATION_RE = re.compile(rf"^{LOCATION}\Z")
_SEGMENT = r"[^/]+"
_PARENT_RE = re.compile(rf"^projects/({_SEGMENT})/(?:locations|regions)/({_SEGMENT})\Z")
_CHILD_RE = re.compile(
    rf"^projects/({_SEGMENT})/(locations|regions)/({_SEGMENT})/"
    rf"(sessions|sessionTemplates|operations)/({RESOURCE_ID})\Z"
)


def _check_parent(project: str, location: str, field: str) -> None:
    if not PROJECT_RE.match(project):
        raise bad_request(
            field,
            f"project {project!r} is not a project id: lowercase letters, digits and hyphens "
            "(or a project number)",
        )
    if not LOCATION_RE.match(location):
        raise bad_request(
            field,
            f"location {location!r} is not a region: lowercase letters, digits and hyphens, "
            "such as us-central1",
        )


_TEMPLATE_URL_PREFIX = "https://www.googleapis.com/compute/v1/"


@dataclass(frozen=True)
class Parent:
    """A project and location pair."""

    project: str
    location: str

    @property
    def path(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def regions_path(self) -> str:
        return f"projects/{self.project}/regions/{self.location}"

    def session(self, session_id: str) -> str:
        return f"{self.path}/sessions/{session_id}"

    def template(self, template_id: str) -> str:
        return f"{self.path}/sessionTemplates/{template_id}"

    def operation(self, operation_id: str) -> str:
        return f"{self.regions_path}/operations/{operation_id}"

    @classmethod
    def parse(cls, text: str, field: str = "parent") -> Parent:
        m = _PARENT_RE.match(text or "")
        if not m:
            raise bad_request(field, f"expected projects/PROJECT/locations/LOCATION, got {text!r}")
        _check_parent(m.group(1), m.group(2), field)
        return cls(m.group(1), m.group(2))


@dataclass(frozen=True)
class ChildName:
    """A session, template or operation name."""

    parent: Parent
    collection: str
    id: str

    @classmethod
    def parse(cls, text: str, collection: str, field: str = "name") -> ChildName:
        m = _CHILD_RE.match(text or "")
        if not m or m.group(4) != collection:
            raise bad_request(
                field,
                f"expected projects/PROJECT/locations/LOCATION/{collection}/ID, got {text!r}",
            )
        _check_parent(m.group(1), m.group(3), field)
        return cls(Parent(m.group(1), m.group(3)), collection, m.group(5))


def parse_template_reference(text: str) -> ChildName:
    """Both accepted forms of ``Session.sessionTemplate``, normalised."""
    ref = text[len(_TEMPLATE_URL_PREFIX) :] if text.startswith(_TEMPLATE_URL_PREFIX) else text
    return ChildName.parse(ref, "sessionTemplates", field="sessionTemplate")
