"""Who am I (any token), and token administration (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, SessionDep, Viewer
from api.schemas import ListPublic
from api.tokens import MAX_LIFETIME_DAYS, create_token, list_tokens, revoke_token, utc

router = APIRouter(tags=["tokens"])


class Me(BaseModel):
    name: str
    role: str


class TokenPublic(BaseModel):
    name: str
    role: str
    created: datetime
    last_used: datetime | None = None
    revoked: datetime | None = None
    expires: datetime | None = Field(None, description="when the token stops working (null: never)")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not ignored
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "service", "engineer", "admin"]
    expires_in_days: int | None = Field(
        None, ge=1, le=MAX_LIFETIME_DAYS, strict=True,
        description=f"lifetime in whole days (1-{MAX_LIFETIME_DAYS}); left out or null: the token never expires")


class TokenCreated(TokenPublic):
    token: str = Field(description="the secret: shown only in this response")


def _public(t) -> dict:
    return {"name": t.name, "role": t.role, "created": utc(t.created), "last_used": utc(t.last_used),
            "revoked": utc(t.revoked), "expires": utc(t.expires)}


@router.get("/me", response_model=Me, summary="The caller's token name and role")
def me(tok: Viewer) -> dict:
    return {"name": tok.name, "role": tok.role}


@router.get("/tokens", response_model=ListPublic[TokenPublic],
            summary="All tokens (never their secrets), revoked and expired ones included")
def get_tokens(session: SessionDep, _: Admin) -> dict:
    # {data, count} like every other list (docs/api.md); it was a bare JSON array
    data = [_public(t) for t in list_tokens(session=session)]
    return {"data": data, "count": len(data)}


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, summary="Create a token")
def post_token(body: TokenCreate, session: SessionDep, _: Admin) -> dict:
    tok, secret = create_token(session=session, name=body.name, role=body.role, expires_in_days=body.expires_in_days)
    return {**_public(tok), "token": secret}


@router.delete("/tokens/{name}", response_model=TokenPublic, summary="Revoke a token")
def delete_token(name: str, session: SessionDep, _: Admin) -> dict:
    return _public(revoke_token(session=session, name=name))
