"""Pydantic models of the Open311 GeoReport v2 answers (discovery, services, requests)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DiscoveryEndpoint(BaseModel):
    """One endpoint of the service discovery document."""

    specification: str
    url: str
    changeset: str
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    """The GeoReport v2 service discovery document."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[DiscoveryEndpoint]


class Service(BaseModel):
    """One service of ``GET services``."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="true when the service has attribute definitions")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str = Field(description="comma-separated keywords")
    group: str


class AttributeValue(BaseModel):
    """One allowed value of a list attribute."""

    key: str
    name: str


class Attribute(BaseModel):
    """One attribute definition of a service (``GET services/{service_code}``)."""

    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue] = Field(default_factory=list)


class ServiceDefinition(BaseModel):
    """A service definition: its code and its attributes."""

    service_code: str
    attributes: list[Attribute]


class ServiceRequestOut(BaseModel):
    """One service request as GeoReport v2 returns it (times ISO 8601 with offset)."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class PostResponse(BaseModel):
    """The answer to ``POST requests``: the new id or (never both) a token, a notice, the account.

    A stored request has its id, so this API answers ``service_request_id`` (the token is
    the client's ``Idempotency-Key``, if it sent one, for ``GET tokens/{token}``).
    """

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str = ""
    account_id: str | None = None


class TokenResponse(BaseModel):
    """The answer to ``GET tokens/{token}``."""

    service_request_id: str | None
    token: str
