"""zalo_oa: Official Accounts with encrypted tokens, their teams, OAuth states, uploads (issue 14)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "zalo_oas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("oa_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.String(length=200), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zalo_oas")),
        sa.UniqueConstraint("oa_id", name=op.f("uq_zalo_oas_oa_id")),
    )
    op.create_table(
        "zalo_oa_teams",
        sa.Column("oa_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["oa_id"],
            ["zalo_oas.id"],
            name=op.f("fk_zalo_oa_teams_oa_id_zalo_oas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_zalo_oa_teams_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("oa_id", "team_id", name=op.f("pk_zalo_oa_teams")),
        sa.UniqueConstraint("team_id", name=op.f("uq_zalo_oa_teams_team_id")),
    )
    op.create_table(
        "zalo_oauth_states",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("verifier", sa.Text(), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_zalo_oauth_states")),
    )
    op.create_table(
        "zalo_oa_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("oa_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("attachment_id", sa.String(length=512), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zalo_oa_images")),
        sa.UniqueConstraint("oa_id", "digest", name=op.f("uq_zalo_oa_images_oa_id")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("zalo_oa_images")
    op.drop_table("zalo_oauth_states")
    op.drop_table("zalo_oa_teams")
    op.drop_table("zalo_oas")
