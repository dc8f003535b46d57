"""Outcomes of the labelling service's rules that views map to HTTP status codes."""


class LabellingError(Exception):
    """Base of the service's refusals; `status` is the HTTP code a view answers with."""

    status = 400


class Invalid(LabellingError):
    """The request's content breaks a rule (bad rating, wrong mask size, unknown class id)."""

    status = 400


class Forbidden(LabellingError):
    """The caller may not touch this (not an admin, not a member, someone else's work)."""

    status = 403


class NotFound(LabellingError):
    """No such campaign, item or mask."""

    status = 404


class Conflict(LabellingError):
    """The thing is in the wrong state (campaign closed, mask already accepted)."""

    status = 409
