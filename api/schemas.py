"""Pydantic schemas shared by the routes: the list envelope and the error message."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

__all__ = ["ListPublic", "Message"]

T = TypeVar("T")


class ListPublic(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="total number of matching items (not only this page)")


class Message(BaseModel):
    detail: str
