"""Scan signals: O/E in the long-term part of exposure episodes, and empirically calibrated O/E.

Revision ID: 0008_scan_latent_calibrated
Revises: 0004_scan
Create Date: 2026-11-29
"""

from alembic import op

revision = "0008_scan_latent_calibrated"
down_revision = "0004_scan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        alter table results.signal
            add column oe_latent_observed bigint check (oe_latent_observed >= 0),
            add column oe_latent_expected double precision check (oe_latent_expected >= 0),
            add column oe_latent_ratio double precision,
            add column oe_latent_p double precision,
            add column oe_cal_p double precision,
            add column oe_latent_cal_p double precision;
        comment on column results.signal.oe_latent_observed is
          'New outcomes in the exposed days at least latency_days after an episode''s first day.';
        comment on column results.signal.oe_cal_p is
          'O/E p-value calibrated on the empirical null of the outcome (all drugs scanned against it).';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        alter table results.signal
            drop column oe_latent_observed, drop column oe_latent_expected, drop column oe_latent_ratio,
            drop column oe_latent_p, drop column oe_cal_p, drop column oe_latent_cal_p
        """
    )
