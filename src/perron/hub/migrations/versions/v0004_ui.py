"""The web pages: when stations were last seen, their reports, the results board.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("version", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("transport", sa.String(length=16), nullable=True))

    op.create_table(
        "station_reports",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_reports_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_reports")),
    )

    op.create_table(
        "study_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.String(length=32), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_study_results_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_results_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_results")),
        sa.UniqueConstraint("result_id", name=op.f("uq_study_results_result_id")),
    )
    op.create_index(op.f("ix_study_results_study_id"), "study_results", ["study_id"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_study_results_study_id"), table_name="study_results")
    op.drop_table("study_results")
    op.drop_table("station_reports")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("transport")
        batch.drop_column("version")
        batch.drop_column("last_seen_at")
