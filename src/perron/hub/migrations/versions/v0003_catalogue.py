"""The catalogue: one dataset description per holder and dataset name.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "catalogue_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("listing", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "listing IN ('public', 'hub')", name=op.f("ck_catalogue_datasets_listing")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_catalogue_datasets_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_catalogue_datasets_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_datasets")),
        sa.UniqueConstraint("organisation_id", "name", name="uq_catalogue_datasets_holder_name"),
    )
    op.create_index(
        op.f("ix_catalogue_datasets_station_id"), "catalogue_datasets", ["station_id"], unique=False
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_catalogue_datasets_station_id"), table_name="catalogue_datasets")
    op.drop_table("catalogue_datasets")
