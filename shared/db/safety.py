"""Start-up checks of the database that production must pass."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.access import DEMO_TOKENS, hash_token
from shared.db.tables import AgentRow


def agents_with_demo_tokens(session: Session) -> list[str]:
    """Handles of agents whose token is one of the demo file's public tokens."""
    hashes = [hash_token(token) for token in DEMO_TOKENS]
    return sorted(session.scalars(select(AgentRow.handle).where(AgentRow.token_hash.in_(hashes))))
