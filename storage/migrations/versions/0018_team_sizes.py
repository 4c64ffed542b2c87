"""team_sizes: members per team, kept by triggers on team_memberships (issue 19)

The team list counted every membership (a GROUP BY over a million rows, 0.4-0.5 s); now it
reads one row per team. Triggers keep the counts in the transaction of every change to
``team_memberships``: joins, moves, leaving, and the cascades when a user or a team is
deleted. On PostgreSQL they are statement-level over transition tables (a bulk COPY adds one
UPDATE per statement); on SQLite one per row. The counts are filled from the memberships here.
The same DDL is in ``storage/models/teams.py`` for databases made from the models.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

POSTGRESQL = (
    """CREATE OR REPLACE FUNCTION team_sizes_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO team_sizes (team_id, members)
        SELECT team_id, count(*) FROM new_rows GROUP BY team_id
        ON CONFLICT (team_id) DO UPDATE SET members = team_sizes.members + EXCLUDED.members;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE team_sizes SET members = team_sizes.members - gone.n
        FROM (SELECT team_id, count(*) AS n FROM old_rows GROUP BY team_id) AS gone
        WHERE team_sizes.team_id = gone.team_id;
    ELSE
        INSERT INTO team_sizes (team_id, members)
        SELECT team_id, sum(n) FROM (
            SELECT team_id, 1 AS n FROM new_rows
            UNION ALL SELECT team_id, -1 AS n FROM old_rows
        ) AS moved GROUP BY team_id HAVING sum(n) <> 0
        ON CONFLICT (team_id) DO UPDATE SET members = team_sizes.members + EXCLUDED.members;
    END IF;
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS team_sizes_insert ON team_memberships",
    "DROP TRIGGER IF EXISTS team_sizes_delete ON team_memberships",
    "DROP TRIGGER IF EXISTS team_sizes_update ON team_memberships",
    "CREATE TRIGGER team_sizes_insert AFTER INSERT ON team_memberships "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION team_sizes_change()",
    "CREATE TRIGGER team_sizes_delete AFTER DELETE ON team_memberships "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION team_sizes_change()",
    "CREATE TRIGGER team_sizes_update AFTER UPDATE ON team_memberships "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION team_sizes_change()",
)
_SQLITE_ADD = (
    "INSERT INTO team_sizes (team_id, members) VALUES (NEW.team_id, 1) "
    "ON CONFLICT (team_id) DO UPDATE SET members = members + 1;"
)
_SQLITE_REMOVE = "UPDATE team_sizes SET members = members - 1 WHERE team_id = OLD.team_id;"
SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS team_sizes_insert AFTER INSERT ON team_memberships "
    f"BEGIN {_SQLITE_ADD} END",
    "CREATE TRIGGER IF NOT EXISTS team_sizes_delete AFTER DELETE ON team_memberships "
    f"BEGIN {_SQLITE_REMOVE} END",
    "CREATE TRIGGER IF NOT EXISTS team_sizes_update AFTER UPDATE OF team_id ON team_memberships "
    f"WHEN OLD.team_id <> NEW.team_id BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
)
TRIGGERS = ("team_sizes_insert", "team_sizes_delete", "team_sizes_update")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "team_sizes",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_sizes_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_sizes")),
    )
    op.execute(
        "INSERT INTO team_sizes (team_id, members) "
        "SELECT team_id, count(*) FROM team_memberships GROUP BY team_id"
    )
    for sql in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(sql)


def downgrade() -> None:
    """Revert this revision."""
    for trigger in TRIGGERS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON team_memberships")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS team_sizes_change()")
    op.drop_table("team_sizes")
