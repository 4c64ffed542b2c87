"""Report files on disk: ``shared_files.path`` names the file in ``teams.file_dir`` (issue 19)

New files are written to the folder and only their token, name, type, owner and expiry stay in
the database; ``data`` becomes nullable. Rows made before this revision keep their bytes in
``data`` and are served from it until they expire (``teams.file_hours``, 24 h by default):
moving them would tie the migration to a folder the config may place elsewhere.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("shared_files") as batch_op:
        batch_op.add_column(sa.Column("path", sa.String(length=64), nullable=True))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    """Revert this revision (files on disk are forgotten: their rows cannot hold them)."""
    op.execute("DELETE FROM shared_files WHERE data IS NULL")
    with op.batch_alter_table("shared_files") as batch_op:
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("path")
