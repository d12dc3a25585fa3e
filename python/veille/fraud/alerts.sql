-- Ranked alerts of one swept month (:month), one row per entity, with the reasons.
-- Detector scores share one scale: hard rules 20 + ln(1 + hits); doctor shopping
-- 10 + 10 x shopping share (shoppers with at least :shopping_min_overlapping overlapping
-- dispensings, one or two overlaps being a GP and a specialist both prescribing, and more days
-- supplied than they could take, :shopping_supply_ratio x the days the supply spans: overlapping
-- prescribers of a chronic drug, such as insulin from a GP and a diabetologist, supply about
-- what is taken); provider
-- outliers their top robust z-score (capped at 15, + 1 when the isolation forest agrees);
-- persistent outliers how far a feature's mean z over the last 12 months lies from the peers'
-- mean z, (mean z - peer median) / (1.4826 MAD of the peers' mean z, at least 1 / sqrt(months),
-- the spread of a mean of independent z-scores; mean z x sqrt(months) with fewer than 5 such
-- peers), capped at 15: a stable trait shared by many peers (a large practice, z 2.5 every
-- month) is no outlier, a provider beyond its peers' own persistent spread is; prescriber x
-- class excess its quasi-Poisson z (capped at 15), with lower thresholds (:class_pooled_z,
-- :class_pooled_ratio) for the pooled controlled drugs, one more test beside the ATC5 ones,
-- where a prescriber's moderate excess in several classes adds up.

-- step: clear
delete from results.fraud_alert where month = :month;

-- step: alerts
insert into results.fraud_alert (month, entity_kind, entity_id, alert_kind, score, alert_rank, status, reasons)
with rules as (
    select entity_kind, entity_id, rule as alert_kind, 20 + ln(1 + hits) as score,
        rule || ': ' || evidence as reason
    from fraud.fraud_rule_hits
    where month = :month
),

shopping as (
    select 'patient' as entity_kind, patient_id::text as entity_id, 'doctor_shopping' as alert_kind,
        10 + 10 * shopping_share::double precision as score,
        'doctor_shopping: ' || drug_code || ' from ' || n_prescribers || ' prescribers in '
        || n_pharmacies || ' pharmacies, ' || n_overlapping || ' overlapping dispensings, '
        || round(100 * shopping_share, 1) || '% of ' || round(total_units) || ' units obtained by shopping, '
        || supply_days || ' days supplied in ' || span_days || ' days (x' || round(supply_ratio, 1) || ')' as reason
    from fraud.fraud_shopping_patients
    where month = :month and is_shopper and shopping_share >= :shopping_share
        and n_overlapping >= :shopping_min_overlapping and supply_ratio >= :shopping_supply_ratio
),

top_features as (
    select scores.provider_id, scores.feature, scores.value, scores.median, scores.robust_z,
        row_number() over (partition by scores.provider_id order by scores.robust_z desc, scores.feature) as k
    from fraud.fraud_provider_peer_scores as scores
    where scores.month = :month and scores.robust_z >= :z_reason
),

outliers as (
    select 'provider' as entity_kind, top.provider_id as entity_id, 'peer_outlier' as alert_kind,
        least(max(top.robust_z), 15) + case when bool_or(forest.is_outlier) then 1 else 0 end as score,
        'peer_outlier: ' || string_agg(top.feature || ' ' || round(top.value::numeric, 2) || ' vs peer median '
            || round(top.median::numeric, 2) || ' (z ' || round(top.robust_z::numeric, 1) || ')', ', '
            order by top.k) filter (where top.k <= 3)
        || case when bool_or(forest.is_outlier) then '; isolation forest outlier' else '' end as reason
    from top_features as top
    left join results.fraud_provider_score as forest
        on forest.month = :month and forest.provider_id = top.provider_id
    group by top.provider_id
    having max(top.robust_z) >= :z_alert
        or (max(top.robust_z) >= :z_with_forest and bool_or(coalesce(forest.is_outlier, false)))
),

persistent as (
    select scores.provider_id, max(scores.peer_group) as peer_group, scores.feature, count(*) as n_months,
        avg(scores.robust_z) as mean_z, avg(scores.value) as mean_value, avg(scores.median) as mean_median
    from fraud.fraud_provider_peer_scores as scores
    where scores.month > (:month)::date - interval '12 months' and scores.month <= :month
        and scores.provider_id in (
            select provider_id from fraud.fraud_provider_peer_scores where month = :month
        )
    group by scores.provider_id, scores.feature
    having count(*) >= :persistent_months
),

persistent_peers as (
    select peer_group, feature, count(*) as n_peers,
        percentile_cont(0.5) within group (order by mean_z) as median_mean_z
    from persistent
    group by peer_group, feature
),

persistent_spread as (
    select persistent.peer_group, persistent.feature, persistent_peers.n_peers, persistent_peers.median_mean_z,
        1.4826 * percentile_cont(0.5) within group (
            order by abs(persistent.mean_z - persistent_peers.median_mean_z)) as mad_mean_z
    from persistent
    inner join persistent_peers using (peer_group, feature)
    group by persistent.peer_group, persistent.feature, persistent_peers.n_peers, persistent_peers.median_mean_z
),

-- fewer than 5 peers with enough scored months: no peer spread to judge by, the mean z of
-- independent months x sqrt(months)
persistent_scored as (
    select persistent.*,
        case
            when spread.n_peers >= 5 then (persistent.mean_z - spread.median_mean_z)
                / greatest(spread.mad_mean_z, 1 / sqrt(persistent.n_months))
            else persistent.mean_z * sqrt(persistent.n_months)
        end as persistence_z
    from persistent
    inner join persistent_spread as spread using (peer_group, feature)
),

persistent_ranked as (
    select *, row_number() over (partition by provider_id order by persistence_z desc, feature) as k
    from persistent_scored
    where persistence_z >= :z_reason
),

persistent_outliers as (
    select 'provider' as entity_kind, provider_id as entity_id, 'persistent_outlier' as alert_kind,
        least(max(persistence_z), 15)::double precision as score,
        'persistent_outlier: ' || string_agg(feature || ' ' || round(mean_value::numeric, 2) || ' vs peer median '
            || round(mean_median::numeric, 2) || ' on average over ' || n_months || ' months (mean z '
            || round(mean_z::numeric, 1) || ', persistence z ' || round(persistence_z::numeric, 1) || ')',
            ', ' order by k) filter (where k <= 3) as reason
    from persistent_ranked
    group by provider_id
    having max(persistence_z) >= :persistent_z
),

class_excess as (
    select 'provider' as entity_kind, prescriber_id as entity_id, 'class_excess' as alert_kind,
        least(max(poisson_z), 15)::double precision as score,
        'class_excess: ' || string_agg(drug_class || ' ' || observed || ' patients (of ' || prescriber_total
            || ' patients) vs ' || round(expected, 1) || ' expected from specialty ' || specialty || ' peers (ratio ' || round(shrunk_ratio, 2)
            || ', z ' || round(poisson_z, 1) || ')',
            ', ' order by poisson_z desc) as reason
    from fraud.fraud_prescriber_class_scores
    where month = :month and case
            when drug_class = 'controlled' then poisson_z >= :class_pooled_z and shrunk_ratio >= :class_pooled_ratio
            else poisson_z >= :class_z and shrunk_ratio >= :class_ratio
        end
    group by prescriber_id
),

candidates as (
    select * from rules
    union all select * from shopping
    union all select * from outliers
    union all select * from persistent_outliers
    union all select * from class_excess
),

per_entity as (
    select entity_kind, entity_id,
        (array_agg(alert_kind order by score desc, alert_kind))[1] as alert_kind,
        max(score) as score,
        string_agg(reason, ' | ' order by score desc, alert_kind) as reasons
    from candidates
    group by entity_kind, entity_id
),

previous as (
    select entity_kind, entity_id
    from results.fraud_alert
    where month = (:month)::date - interval '1 month' and status <> 'resolved'
)

select :month, per_entity.entity_kind,
    per_entity.entity_id,
    per_entity.alert_kind, per_entity.score,
    row_number() over (order by per_entity.score desc, per_entity.entity_kind, per_entity.entity_id),
    case when previous.entity_id is null then 'new' else 'persisting' end,
    per_entity.reasons
from per_entity
left join previous using (entity_kind, entity_id);

-- step: resolved
insert into results.fraud_alert (month, entity_kind, entity_id, alert_kind, score, alert_rank, status, reasons)
select :month, prev.entity_kind, prev.entity_id, prev.alert_kind, null, null, 'resolved',
    'alerted in ' || to_char(prev.month, 'YYYY-MM') || ', not in ' || to_char((:month)::date, 'YYYY-MM')
from results.fraud_alert as prev
where prev.month = (:month)::date - interval '1 month' and prev.status <> 'resolved'
  and not exists (
      select 1 from results.fraud_alert as cur
      where cur.month = :month and cur.entity_kind = prev.entity_kind and cur.entity_id = prev.entity_id
  );
