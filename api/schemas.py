"""Pydantic schemas shared by the routes: list envelope and the public shapes of other parts' rows.

Rows of tables the API does not own are passed through with their columns (``extra="allow"``);
the fields named here are the ones the dashboard relies on.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AlertPublic", "ListPublic", "Message", "RowPublic", "TicketPublic", "UnitPublic"]

T = TypeVar("T")


class ListPublic(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="total number of matching items (not only this page)")


class Message(BaseModel):
    detail: str


class RowPublic(BaseModel):
    model_config = ConfigDict(extra="allow")


class UnitPublic(RowPublic):
    device_id: str


class AlertPublic(RowPublic):
    id: int | str


class TicketPublic(RowPublic):
    id: int | str


def public(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return items
