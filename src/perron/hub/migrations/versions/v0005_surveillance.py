"""Standing surveillance: the weekly jobs of a study and the weeks their runners assessed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "surveillance_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_week", sa.String(length=8), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("hour BETWEEN 0 AND 23", name=op.f("ck_surveillance_jobs_hour")),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name=op.f("ck_surveillance_jobs_weekday")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_surveillance_jobs_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_surveillance_jobs_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveillance_jobs")),
        sa.UniqueConstraint("study_id", "name", name="uq_surveillance_jobs_study_name"),
    )
    op.create_index(
        op.f("ix_surveillance_jobs_owner_id"), "surveillance_jobs", ["owner_id"], unique=False
    )

    op.create_table(
        "surveillance_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("result_id", sa.String(length=32), nullable=False),
        sa.Column("alarm", sa.Boolean(), nullable=False),
        sa.Column("alarm_weeks", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["surveillance_jobs.id"],
            name=op.f("fk_surveillance_runs_job_id_surveillance_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveillance_runs")),
        sa.UniqueConstraint("job_id", "week", name="uq_surveillance_runs_job_week"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("surveillance_runs")
    op.drop_index(op.f("ix_surveillance_jobs_owner_id"), table_name="surveillance_jobs")
    op.drop_table("surveillance_jobs")
