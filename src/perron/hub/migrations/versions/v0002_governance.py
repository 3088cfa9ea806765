"""Governance: organisation roles, data requests, track events, documents, policies, results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The roles of :class:`perron.governance.roles.Role` when this revision was written
#: (a revision must not import the models, so it keeps working after they change).
ROLE_CHECK = (
    "role IN ('researcher', 'data_manager', 'privacy_officer', 'legal_counsel', "
    "'it_admin', 'security_officer', 'org_admin')"
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "data_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["users.id"], name=op.f("fk_data_requests_applicant_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_data_requests_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_data_requests_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
    )
    op.create_index(
        op.f("ix_data_requests_applicant_id"), "data_requests", ["applicant_id"], unique=False
    )
    op.create_index(op.f("ix_data_requests_study_id"), "data_requests", ["study_id"], unique=False)

    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            ROLE_CHECK,
            name=op.f("ck_user_roles_role"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "request_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("uploader_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["organisations.id"],
            name=op.f("fk_request_documents_holder_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_requests.id"],
            name=op.f("fk_request_documents_request_id_data_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name=op.f("fk_request_documents_uploader_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_documents")),
    )
    op.create_index(
        "ix_request_documents_request_sha256",
        "request_documents",
        ["request_id", "sha256"],
        unique=False,
    )

    op.create_table(
        "request_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("publications", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_requests.id"],
            name=op.f("fk_request_results_request_id_data_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_results")),
    )
    op.create_index(
        op.f("ix_request_results_request_id"), "request_results", ["request_id"], unique=False
    )

    op.create_table(
        "request_tracks",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_request_tracks_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_requests.id"],
            name=op.f("fk_request_tracks_request_id_data_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "organisation_id", name=op.f("pk_request_tracks")),
    )
    op.create_index(
        op.f("ix_request_tracks_organisation_id"),
        "request_tracks",
        ["organisation_id"],
        unique=False,
    )

    op.create_table(
        "study_policies",
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id", "organisation_id"],
            ["request_tracks.request_id", "request_tracks.organisation_id"],
            name=op.f("fk_study_policies_request_id_request_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_study_policies")),
    )
    op.create_index(
        "ix_study_policies_holder",
        "study_policies",
        ["organisation_id", "withdrawn_at"],
        unique=False,
    )

    op.create_table(
        "track_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("disclosure", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('decision', 'send_back')", name=op.f("ck_track_events_kind")),
        sa.ForeignKeyConstraint(
            ["request_id", "organisation_id"],
            ["request_tracks.request_id", "request_tracks.organisation_id"],
            name=op.f("fk_track_events_request_id_request_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_events")),
        sa.UniqueConstraint("request_id", "organisation_id", "seq", name="uq_track_events_seq"),
    )
    op.create_table(
        "policy_signatures",
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("signer", sa.String(length=100), nullable=False),
        sa.Column("verify_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            ROLE_CHECK,
            name=op.f("ck_policy_signatures_role"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["study_policies.policy_id"],
            name=op.f("fk_policy_signatures_policy_id_study_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", "role", name=op.f("pk_policy_signatures")),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("policy_signatures")
    op.drop_table("track_events")
    op.drop_index("ix_study_policies_holder", table_name="study_policies")

    op.drop_table("study_policies")
    op.drop_index(op.f("ix_request_tracks_organisation_id"), table_name="request_tracks")

    op.drop_table("request_tracks")
    op.drop_index(op.f("ix_request_results_request_id"), table_name="request_results")

    op.drop_table("request_results")
    op.drop_index("ix_request_documents_request_sha256", table_name="request_documents")

    op.drop_table("request_documents")
    op.drop_table("user_roles")
    op.drop_index(op.f("ix_data_requests_study_id"), table_name="data_requests")
    op.drop_index(op.f("ix_data_requests_applicant_id"), table_name="data_requests")

    op.drop_table("data_requests")
