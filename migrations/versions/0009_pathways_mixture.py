"""Pathways: the latent-class mixture beside CLARA (choice of k by ICL, membership probability).

Revision ID: 0009_pathways_mixture
Revises: 0005_pathways
Create Date: 2026-11-29
"""

from alembic import op

revision = "0009_pathways_mixture"
down_revision = "0005_pathways"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        alter table results.pathways_cluster_k
            alter column total_distance drop not null,
            add column log_likelihood double precision,
            add column bic double precision,
            add column icl double precision;
        comment on column results.pathways_cluster_k.icl is
          'Mixture: integrated completed likelihood on the sample (BIC + 2 x entropy); the smallest is chosen.';
        alter table results.pathways_cluster_member
            alter column distance drop not null,
            add column probability double precision
                check (probability is null or (probability >= 0 and probability <= 1));
        comment on column results.pathways_cluster_member.distance is
          'CLARA: distance to the medoid; null for the mixture.';
        comment on column results.pathways_cluster_member.probability is
          'Mixture: posterior probability of the cluster; null for CLARA.';
        comment on column results.pathways_cluster.medoid is
          'CLARA: the medoid''s state string; mixture: the most certain member''s.';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        -- runs clustered by the mixture cannot be stored in the older tables: removed whole
        delete from results.pathways_run where run_id in (
            select run_id from results.pathways_cluster_member where distance is null
            union select run_id from results.pathways_cluster_k where total_distance is null);
        alter table results.pathways_cluster_member
            drop column probability, alter column distance set not null;
        alter table results.pathways_cluster_k
            drop column log_likelihood, drop column bic, drop column icl,
            alter column total_distance set not null;
        """
    )
